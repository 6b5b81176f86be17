import { SseParser, type SseEvent } from './sse-parser';

describe('SseParser', () => {
  it('reads named events with JSON data', () => {
    const p = new SseParser();
    expect(p.push('event: delta\ndata: {"seq":1,"text":"a"}\n\nevent: completed\ndata: {}\n\n')).toEqual([
      { event: 'delta', data: '{"seq":1,"text":"a"}' },
      { event: 'completed', data: '{}' },
    ]);
  });

  it('gives the same events whatever the chunk boundaries, CRLF included', () => {
    const body = 'event: delta\r\ndata: {"seq":1}\r\n\r\n: keep-alive\r\n\r\nevent: delta\r\ndata: {"seq":2}\r\n\r\n';
    const whole = new SseParser().push(body);
    const p = new SseParser();
    const split = [...body].flatMap((ch) => p.push(ch));
    expect(split).toEqual(whole);
    expect(whole.map((e) => e.data)).toEqual(['{"seq":1}', '{"seq":2}']);
  });

  it('joins multi-line data, defaults the name to message, and holds an unfinished event', () => {
    const p = new SseParser();
    expect(p.push('data: one\ndata:two\n\ndata: half')).toEqual([{ event: 'message', data: 'one\ntwo' }]);
    expect(p.push('\n\n')).toEqual([{ event: 'message', data: 'half' }]);
  });
});

const dataOf = (events: SseEvent[]) => events.map((e) => e.data);

describe('SseParser as the OpenAI provider uses it (data only)', () => {
  it('joins events split anywhere, including between \\r and \\n', () => {
    const parser = new SseParser();
    expect(dataOf(parser.push('data: {"a"'))).toEqual([]);
    expect(dataOf(parser.push(':1}\r'))).toEqual([]);
    // A trailing '\r' might be half of '\r\n', so the blank line only counts once the next byte is in.
    expect(dataOf(parser.push('\n\r'))).toEqual([]);
    expect(dataOf(parser.push('\ndata: x\r\r'))).toEqual(['{"a":1}']);
    expect(dataOf(parser.push('\n'))).toEqual(['x']);
  });

  it('skips comments and other fields and joins multiple data lines with newlines', () => {
    const parser = new SseParser();
    expect(dataOf(parser.push(': keep-alive\nevent: message\nid: 7\ndata: one\ndata:two\n\n'))).toEqual(['one\ntwo']);
  });

  it('flushes a last event missing its blank line at end of stream', () => {
    const parser = new SseParser();
    expect(dataOf(parser.push('data: [DONE]'))).toEqual([]);
    expect(dataOf(parser.end())).toEqual(['[DONE]']);
  });
});
