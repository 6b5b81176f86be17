// Integration tests drive real processes; per-project `testTimeout` is not honoured by jest.
jest.setTimeout(60_000);
