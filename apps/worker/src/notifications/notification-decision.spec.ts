import { decideNotification, notificationText } from './notification-decision';

describe('decideNotification (the table in docs/protocol.md#notifications)', () => {
  it.each([
    ['completed', false, false, { notify: true, type: 'ai.message.received' }],
    ['completed', true, false, { notify: false, reason: 'skipped_open' }],
    ['completed', true, true, { notify: false, reason: 'skipped_open' }],
    ['completed', false, true, { notify: false, reason: 'skipped_muted' }],
    ['failed', false, false, { notify: true, type: 'system.warning' }],
    ['failed', false, true, { notify: true, type: 'system.warning' }],
    ['failed', true, false, { notify: false, reason: 'skipped_open' }],
    ['failed', true, true, { notify: false, reason: 'skipped_open' }],
    ['cancelled', false, false, { notify: false, reason: 'skipped_cancelled' }],
    ['cancelled', true, false, { notify: false, reason: 'skipped_cancelled' }],
    ['cancelled', false, true, { notify: false, reason: 'skipped_cancelled' }],
  ] as const)('%s, open=%s, muted=%s → %j', (outcome, open, muted, expected) => {
    expect(decideNotification(outcome, open, muted)).toEqual(expected);
  });
});

describe('notificationText', () => {
  it('shows the start of the answer under the thread title, cut at a readable length', () => {
    const { title, body } = notificationText('ai.message.received', 'Trip plan', `Day one:\n${'walk '.repeat(100)}`, null);
    expect(title).toBe('Trip plan');
    expect(body.startsWith('Day one: walk walk')).toBe(true);
    expect(body.length).toBeLessThanOrEqual(140);
    expect(body.endsWith('…')).toBe(true);
  });

  it('explains a failure in words, never a stack trace', () => {
    const { body } = notificationText('system.warning', 'T', '', 'The model is overloaded');
    expect(body).toBe('The answer could not be completed: The model is overloaded');
  });
});
