-- 'skipped_gone' was never written: a stream whose rows are gone has no decision to record.
-- Postgres cannot drop an enum value, so the type is rebuilt without it.
ALTER TYPE "NotificationDecision" RENAME TO "NotificationDecision_old";
CREATE TYPE "NotificationDecision" AS ENUM ('notified', 'skipped_open', 'skipped_muted', 'skipped_cancelled');
ALTER TABLE "streams" ALTER COLUMN "notification_decision" TYPE "NotificationDecision" USING ("notification_decision"::text::"NotificationDecision");
DROP TYPE "NotificationDecision_old";
