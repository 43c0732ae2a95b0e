-- A coordinator appointment's kind: a coordinator ('general'), or a child coordinator ('child',
-- barnekoordinator, for the family of a child with a serious illness, injury or disability).
ALTER TABLE coordinator_assignments ADD COLUMN kind TEXT NOT NULL DEFAULT 'general';
