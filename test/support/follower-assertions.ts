import type { TerminalStreamStatus } from '@bgs/shared';
import { describeFollowed, type FollowedStep, type FollowedStream, type ThreadFollower } from './thread-follower';

export interface ContiguousOptions {
  /**
   * The whole answer: every step shows a prefix of it (the simulated provider answers
   * the same on every attempt), and once the client knows the stream completed, the last
   * step shows all of it.
   */
  expected?: string;
  /**
   * The follower was there before the stream's first frame: no snapshot carried content,
   * so every attempt was applied frame by frame from seq 1.
   */
  fromFirstFrame?: boolean;
  /** How the stream must have ended, as the client learnt it (final event, else an ended snapshot). */
  ended?: TerminalStreamStatus;
}

/** A step as `{attempt, seq, text}` (plus its kind), for comparing what a client applied. */
export const stepView = (s: FollowedStep) => ({ kind: s.kind, attempt: s.attempt, seq: s.seq, text: s.text });

export const frameSteps = (f: FollowedStream) => f.steps.filter((s): s is Extract<FollowedStep, { kind: 'frame' }> => s.kind === 'frame');

/** The attempts the steps went through, in order, each once. */
export const attemptsOf = (f: FollowedStream) => f.steps.map((s) => s.attempt).filter((a, i, all) => i === 0 || a !== all[i - 1]);

/** The attempts `stream.reset` started, in order. */
export const resetsOf = (f: FollowedStream) => f.steps.filter((s) => s.kind === 'reset').map((s) => s.attempt);

/** Consecutive seqs from `from` to `to` (empty when `to < from`). */
export const seqRange = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

/** Everything wrong with what a client applied of one stream, by the resume rule (empty when nothing is). */
export function contiguityProblems(f: FollowedStream | undefined, options: ContiguousOptions = {}): string[] {
  if (!f) return ['nothing of the stream was followed'];
  const problems: string[] = [];
  if (f.steps.length === 0) problems.push('no step was applied');
  if (f.duplicates > 0) problems.push(`${f.duplicates} frame(s) delivered twice`);
  if (f.waiting.length > 0) problems.push(`frames still waiting: ${f.waiting.map((w) => `${w.attempt}:${w.seq}`).join(', ')}`);
  if (f.afterFinal.length > 0) problems.push(`frames after the final event: ${f.afterFinal.map((w) => `${w.attempt}:${w.seq}`).join(', ')}`);

  let prev = { attempt: 0, seq: 0, text: '' };
  for (const [i, s] of f.steps.entries()) {
    const at = `step ${i} (${s.kind} ${s.attempt}:${s.seq})`;
    if (s.attempt < prev.attempt) problems.push(`${at}: older than attempt ${prev.attempt} held before`);
    else if (s.kind === 'frame') {
      const base = s.attempt === prev.attempt ? prev : { attempt: s.attempt, seq: 0, text: '' };
      // Within an attempt, frames are exactly consecutive; a newer attempt starts from empty content at seq 1.
      if (s.seq !== base.seq + 1) problems.push(`${at}: expected seq ${base.seq + 1} of attempt ${s.attempt} (a gap or a duplicate)`);
      if (s.text !== base.text + s.delta) problems.push(`${at}: text is not the previous text plus the frame's text`);
    } else if (s.kind === 'reset') {
      if (s.attempt <= prev.attempt) problems.push(`${at}: a reset must start a newer attempt than ${prev.attempt}`);
      if (s.text !== '') problems.push(`${at}: a reset must empty the content`);
    } else {
      if (options.fromFirstFrame && (s.seq > 0 || s.text !== '')) problems.push(`${at}: a snapshot with content, though the follower saw the stream from its first frame`);
      if (s.attempt === prev.attempt && (s.seq < prev.seq || !s.text.startsWith(prev.text))) problems.push(`${at}: the snapshot rolls back what was shown at ${prev.attempt}:${prev.seq}`);
    }
    if (options.expected !== undefined && !options.expected.startsWith(s.text)) problems.push(`${at}: shows text that is not a prefix of the expected answer`);
    prev = { attempt: s.attempt, seq: s.seq, text: s.text };
  }

  const last = f.steps.at(-1);
  const ended = f.final?.status ?? (last?.kind === 'snapshot' && ['completed', 'failed', 'cancelled'].includes(last.status) ? (last.status as TerminalStreamStatus) : undefined);
  if (options.ended && ended !== options.ended) problems.push(`ended as ${ended ?? 'nothing yet'}, expected ${options.ended}`);
  // The content assembled step by step must be the final message, not merely end near it.
  if (f.final?.status === 'completed' && last?.text !== f.final.content) problems.push('the content assembled from the steps is not the final message');
  if (options.expected !== undefined && ended === 'completed') {
    if (last?.text !== options.expected) problems.push(`the last step shows ${last?.text.length ?? 0} chars, not the expected ${options.expected.length}`);
    if (f.final?.content !== undefined && f.final.content !== options.expected) problems.push('the final message is not the expected answer');
  }
  return problems;
}

/**
 * What a client applied of `streamId` is gap-free and duplicate-free, step by step:
 * within an attempt, seqs after a snapshot step are exactly consecutive; no frame was
 * delivered twice, none is left waiting and none came after the final event; every
 * frame step's text is the previous text plus that frame's text; resets empty the
 * content for a newer attempt; a snapshot never rolls back; and when the stream
 * completed, the last step's text equals the final message. Returns the stream.
 */
export function expectContiguous(follower: ThreadFollower, streamId: string, options: ContiguousOptions = {}): FollowedStream {
  const f = follower.streams.get(streamId);
  const problems = contiguityProblems(f, options);
  if (problems.length > 0) problems.push(`followed: ${describeFollowed(f)}`);
  expect(problems).toEqual([]);
  return f as FollowedStream;
}

/**
 * Every step `follower` applied of `streamId` shows, at its attempt and seq, exactly the
 * text `reference` showed there (a client that never left saw every frame).
 */
export function expectSameTextAsReference(follower: ThreadFollower, reference: ThreadFollower, streamId: string): void {
  const shown = new Map(reference.stream(streamId).steps.map((s) => [`${s.attempt}:${s.seq}`, s.text]));
  const steps = follower.stream(streamId).steps.filter((s) => s.seq > 0);
  expect(steps.map((s) => ({ attempt: s.attempt, seq: s.seq, text: s.text }))).toEqual(
    steps.map((s) => ({ attempt: s.attempt, seq: s.seq, text: shown.get(`${s.attempt}:${s.seq}`) })),
  );
}
