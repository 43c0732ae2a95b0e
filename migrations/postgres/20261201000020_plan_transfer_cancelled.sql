-- A proposal the sending side withdraws before an answer is 'cancelled' (CancelPlanTransfer).
ALTER TABLE plan_transfers DROP CONSTRAINT plan_transfers_state_check;
ALTER TABLE plan_transfers ADD CONSTRAINT plan_transfers_state_check
    CHECK (state IN ('proposed', 'accepted', 'declined', 'cancelled'));
