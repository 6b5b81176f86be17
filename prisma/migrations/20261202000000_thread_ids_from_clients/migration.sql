-- Thread ids may come from the client (an AI SDK chat id, [A-Za-z0-9_-]{1,64}), not only
-- our UUIDs: the id and every column that refers to it become text. The foreign keys are
-- dropped around the type change and put back as they were.
ALTER TABLE "messages" DROP CONSTRAINT "messages_thread_id_fkey";
ALTER TABLE "streams" DROP CONSTRAINT "streams_thread_id_fkey";
ALTER TABLE "notifications" DROP CONSTRAINT "notifications_thread_id_fkey";

ALTER TABLE "threads" ALTER COLUMN "id" TYPE TEXT;
ALTER TABLE "messages" ALTER COLUMN "thread_id" TYPE TEXT;
ALTER TABLE "streams" ALTER COLUMN "thread_id" TYPE TEXT;
ALTER TABLE "notifications" ALTER COLUMN "thread_id" TYPE TEXT;

ALTER TABLE "messages" ADD CONSTRAINT "messages_thread_id_fkey" FOREIGN KEY ("thread_id") REFERENCES "threads"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "streams" ADD CONSTRAINT "streams_thread_id_fkey" FOREIGN KEY ("thread_id") REFERENCES "threads"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_thread_id_fkey" FOREIGN KEY ("thread_id") REFERENCES "threads"("id") ON DELETE CASCADE ON UPDATE CASCADE;
