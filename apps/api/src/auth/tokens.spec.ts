import { createHmac, generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { ApiError } from '@bgs/shared';
import { bearerToken, signToken, verifyToken } from './tokens';

const SECRET = 'unit-test-secret-0123456789abcdef';

/** The 401 message verifyToken answers with, or the user id when it accepts. */
function verdict(token: string | undefined, secret = SECRET): string {
  try {
    return `user ${verifyToken(token, secret)}`;
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('unauthorized');
    expect((err as ApiError).status).toBe(401);
    return (err as ApiError).message;
  }
}

/** A token with any header and payload, signed (or not) by hand. */
function unsignedToken(payload: object): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(payload)}.`;
}

describe('verifyToken', () => {
  const now = () => Math.floor(Date.now() / 1000);

  it('accepts a token this API signed and returns its sub', () => {
    expect(verdict(signToken('alice', SECRET))).toBe('user alice');
    expect(verdict(jwt.sign({ sub: 'user@example.com' }, SECRET, { algorithm: 'HS256' }))).toBe('user user@example.com');
  });

  it('refuses a missing token', () => {
    expect(verdict(undefined)).toBe('missing bearer token');
    expect(verdict('')).toBe('missing bearer token');
  });

  it('refuses an expired token, saying so', () => {
    expect(verdict(jwt.sign({ sub: 'alice', exp: now() - 10 }, SECRET, { algorithm: 'HS256' }))).toBe('token expired');
    expect(verdict(signToken('alice', SECRET, -1))).toBe('token expired');
  });

  it('refuses a token not valid yet', () => {
    expect(verdict(jwt.sign({ sub: 'alice', nbf: now() + 3600 }, SECRET, { algorithm: 'HS256' }))).toBe('invalid token');
  });

  it('refuses a token signed with another secret', () => {
    expect(verdict(signToken('alice', 'another-secret-of-enough-length'))).toBe('invalid token');
  });

  it('refuses alg none, even with a valid-looking payload', () => {
    expect(verdict(unsignedToken({ sub: 'alice', exp: now() + 3600 }))).toBe('invalid token');
  });

  it('refuses asymmetric algorithms (RS256), even signed with a real key', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(verdict(jwt.sign({ sub: 'alice' }, privateKey, { algorithm: 'RS256' }))).toBe('invalid token');
  });

  it('refuses other HMAC strengths (HS512): only HS256 is accepted (docs/protocol.md#auth)', () => {
    expect(verdict(jwt.sign({ sub: 'alice' }, SECRET, { algorithm: 'HS512' }))).toBe('invalid token');
  });

  it.each([
    ['no sub', { name: 'alice' }],
    ['an empty sub', { sub: '' }],
    ['a sub with spaces', { sub: 'alice smith' }],
    ['a sub that is too long', { sub: 'a'.repeat(201) }],
  ])('refuses a token with %s', (_name, payload) => {
    expect(verdict(jwt.sign(payload, SECRET, { algorithm: 'HS256' }))).toBe('token has no valid sub');
  });

  it('refuses a signed token whose payload is not an object', () => {
    expect(verdict(jwt.sign('alice', SECRET, { algorithm: 'HS256' }))).toBe('token has no valid sub');
  });

  it('refuses a numeric sub', () => {
    // jsonwebtoken refuses to sign a non-string sub, so sign the bytes by hand.
    const valid = jwt.sign({ sub: 'x' }, SECRET, { algorithm: 'HS256' });
    const [header] = valid.split('.');
    const payload = Buffer.from(JSON.stringify({ sub: 42 })).toString('base64url');
    const signature = createHmac('sha256', SECRET).update(`${header}.${payload}`).digest('base64url');
    expect(verdict(`${header}.${payload}.${signature}`)).toBe('token has no valid sub');
  });

  it.each([['garbage'], ['a.b.c'], ['eyJhbGciOiJIUzI1NiJ9.not-json.sig'], ['..'], [`${signToken('alice', SECRET)}x`]])(
    'refuses the malformed token %s',
    (token) => {
      expect(verdict(token)).toBe('invalid token');
    },
  );

  it('a tampered payload does not keep the signature valid', () => {
    const [header, , signature] = signToken('alice', SECRET).split('.');
    const payload = Buffer.from(JSON.stringify({ sub: 'mallory', exp: now() + 3600 })).toString('base64url');
    expect(verdict(`${header}.${payload}.${signature}`)).toBe('invalid token');
  });
});

describe('bearerToken', () => {
  it.each<[string | undefined, string | undefined]>([
    ['Bearer abc.def.ghi', 'abc.def.ghi'],
    ['bearer abc', 'abc'],
    ['BEARER   abc  ', 'abc'],
    [undefined, undefined],
    ['', undefined],
    ['Bearer', undefined],
    ['Bearer ', undefined],
    ['Basic YWxpY2U6cHc=', undefined],
    ['Bearer abc def', undefined],
    ['Token abc', undefined],
    ['xBearer abc', undefined],
  ])('%j → %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });
});
