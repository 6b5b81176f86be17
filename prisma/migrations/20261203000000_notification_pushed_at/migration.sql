-- A notification is pushed after its row commits; `pushed_at` records that Redis accepted
-- the push, so a push lost with its listener (a crash between commit and publish) is found
-- and pushed again by the sweep. Rows from before were pushed or are past caring.
ALTER TABLE "notifications" ADD COLUMN "pushed_at" TIMESTAMPTZ(3);

UPDATE "notifications" SET "pushed_at" = "created_at";

-- Only the unpushed rows (few, and short-lived): the sweep reads them oldest first.
CREATE INDEX "notifications_unpushed_idx" ON "notifications"("created_at") WHERE "pushed_at" IS NULL;
