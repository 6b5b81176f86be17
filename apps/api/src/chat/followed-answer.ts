import { applyFrame, applyReset, type Frame, type StreamPosition } from '@bgs/shared';
import type { RoomEvent } from '@bgs/server';
import type { UiMessageStreamEvents } from './ui-message-events';

/**
 * One HTTP reader of one running answer, fed by its thread's room. The resume rule stands
 * in front of the UI message stream: frames that arrive before the reader has its starting
 * position wait, duplicates are dropped, a frame past a gap waits for the ones before it,
 * and a new attempt starts a new text part. Events of other streams of the thread are ignored.
 */
export class FollowedAnswer {
  private position: StreamPosition | null = null;
  private ui: UiMessageStreamEvents | null = null;
  private early: RoomEvent[] = [];
  private waiting: Frame[] = [];

  constructor(readonly streamId: string) {}

  /** Every event of the room, from before the reader knows where it starts. */
  readonly onRoomEvent = (e: RoomEvent): void => {
    if (e.payload && 'streamId' in e.payload && e.payload.streamId !== this.streamId) return;
    if (!this.ui) this.early.push(e);
    else this.apply(e);
  };

  /** Starts writing from `from` (a snapshot, or nothing yet): its content first, then what the room says. */
  start(ui: UiMessageStreamEvents, from: StreamPosition): void {
    this.ui = ui;
    this.position = from;
    ui.text(from.content);
    for (const e of this.early.splice(0)) this.apply(e);
  }

  private apply(e: RoomEvent): void {
    const ui = this.ui as UiMessageStreamEvents;
    const held = this.position as StreamPosition;
    switch (e.event) {
      case 'stream.started':
      case 'stream.reset':
        if (e.payload.attempt > held.attempt) this.enterAttempt(e.payload.attempt);
        return;
      case 'stream.delta':
        this.frame(e.payload);
        return;
      case 'stream.completed': {
        // Frames lost on the way (none expected) still reach the reader from the final message.
        const final = e.payload.message.content;
        if (final.startsWith(held.content)) ui.text(final.slice(held.content.length));
        ui.end({ status: 'completed', ...e.payload });
        return;
      }
      case 'stream.failed':
        ui.end({ status: 'failed', ...e.payload });
        return;
      case 'stream.cancelled':
        ui.end({ status: 'cancelled', ...e.payload });
        return;
    }
  }

  private enterAttempt(attempt: number): void {
    const had = (this.position as StreamPosition).attempt;
    this.position = applyReset(this.position as StreamPosition, attempt);
    this.waiting = this.waiting.filter((w) => w.attempt >= attempt);
    if (had > 0) (this.ui as UiMessageStreamEvents).newAttempt();
  }

  private frame(frame: Frame): void {
    if (frame.attempt > (this.position as StreamPosition).attempt && frame.seq === 1) this.enterAttempt(frame.attempt);
    const r = applyFrame(this.position as StreamPosition, frame);
    if (r.outcome === 'ahead') this.waiting.push(frame);
    if (r.outcome !== 'applied') return;
    this.position = r.state;
    (this.ui as UiMessageStreamEvents).text(frame.text);
    const next = this.waiting.findIndex((w) => w.attempt === r.state.attempt && w.seq === r.state.seq + 1);
    if (next >= 0) this.frame(this.waiting.splice(next, 1)[0]);
  }
}
