import { SseParser } from './sse-parser';

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
