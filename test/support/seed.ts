import { randomUUID } from 'node:crypto';
import type { GenerationJob } from '@bgs/shared';
import type { PrismaClient } from '@bgs/server';

/**
 * Stores what a send would (a user with a thread, the user message, the assistant
 * message that will stream, the stream row) so a generation can run on it in-process.
 */
export async function seedStream(prisma: PrismaClient, content: string): Promise<GenerationJob> {
  const userId = `u-${randomUUID()}`;
  const threadId = randomUUID();
  const streamId = randomUUID();
  const userMessageId = randomUUID();
  const messageId = randomUUID();
  await prisma.user.create({ data: { id: userId } });
  await prisma.thread.create({ data: { id: threadId, userId, title: 'Seeded', activeStreamId: streamId } });
  await prisma.message.create({ data: { id: userMessageId, threadId, role: 'user', content, status: 'complete', createdAt: new Date(Date.now() - 1) } });
  await prisma.message.create({ data: { id: messageId, threadId, role: 'assistant', content: '', status: 'streaming', streamId } });
  await prisma.stream.create({ data: { id: streamId, threadId, messageId, userMessageId, userId, model: 'simulated-1' } });
  return { streamId, threadId, messageId, userId, model: 'simulated-1' };
}
