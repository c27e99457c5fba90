-- Hourly contracts (seed 002, "Budget type: Hourly (weekly payouts)"): an order made from an
-- HOURLY task carries an hourly rate and a weekly hour cap; the freelancer logs time entries
-- into weekly timesheets that the client approves (billing the week out of escrow) or
-- disputes.

-- What an hourly order has billed out of its escrow so far; NULL for a fixed-price order.
-- The escrow an order still holds is amount_cents less this.
ALTER TABLE orders
    ADD COLUMN billed_cents BIGINT CHECK (billed_cents >= 0 AND billed_cents <= amount_cents);

-- The terms of an hourly order, fixed when it is made.
CREATE TABLE hourly_terms (
    order_id           UUID PRIMARY KEY REFERENCES orders (id) ON DELETE CASCADE,
    hourly_rate_cents  BIGINT NOT NULL CHECK (hourly_rate_cents > 0),
    -- The most time that may be logged in one ISO week.
    weekly_minute_cap  INTEGER NOT NULL CHECK (weekly_minute_cap BETWEEN 60 AND 80 * 60),
    -- How many weeks at the cap the escrow (the order amount) was sized for.
    weeks              INTEGER NOT NULL CHECK (weeks BETWEEN 1 AND 52)
);

-- One ISO week (Monday start) of an hourly order.
CREATE TABLE timesheets (
    id              UUID PRIMARY KEY,
    order_id        UUID NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    week_start      DATE NOT NULL CHECK (extract(isodow FROM week_start) = 1),
    status          TEXT NOT NULL CHECK (status IN ('OPEN', 'SUBMITTED', 'APPROVED', 'DISPUTED')),
    -- The week's logged time and its price at the order's rate (rounded half up), kept in
    -- step with the entries.
    minutes         INTEGER NOT NULL DEFAULT 0 CHECK (minutes >= 0),
    amount_cents    BIGINT NOT NULL DEFAULT 0 CHECK (amount_cents >= 0),
    -- The platform fee kept when the week was billed.
    fee_cents       BIGINT CHECK (fee_cents >= 0),
    submitted_at    TIMESTAMPTZ,
    -- When a submitted week is approved on its own if the client has not answered.
    review_due_at   TIMESTAMPTZ,
    decided_at      TIMESTAMPTZ,
    decided_by      UUID REFERENCES users (id) ON DELETE SET NULL,
    auto_approved   BOOLEAN NOT NULL DEFAULT false,
    dispute_reason  TEXT CHECK (char_length(dispute_reason) <= 2000),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (order_id, week_start),
    CHECK ((status = 'SUBMITTED') = (review_due_at IS NOT NULL)),
    CHECK ((status = 'APPROVED') = (fee_cents IS NOT NULL))
);

CREATE INDEX timesheets_decided_by_idx ON timesheets (decided_by) WHERE decided_by IS NOT NULL;
-- Submitted weeks by review deadline (the auto-approval job).
CREATE INDEX timesheets_review_due_idx ON timesheets (review_due_at) WHERE status = 'SUBMITTED';

-- One stretch of work on one day: [start_time, start_time + minutes), within the day.
CREATE TABLE time_entries (
    id            UUID PRIMARY KEY,
    timesheet_id  UUID NOT NULL REFERENCES timesheets (id) ON DELETE CASCADE,
    work_date     DATE NOT NULL,
    start_time    TIME NOT NULL,
    minutes       INTEGER NOT NULL CHECK (minutes BETWEEN 1 AND 1440),
    note          TEXT NOT NULL DEFAULT '' CHECK (char_length(note) <= 1000),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (extract(epoch FROM start_time) / 60 + minutes <= 1440)
);

-- A week's entries by day and start (the overlap check and Timesheet.entries).
CREATE INDEX time_entries_timesheet_idx ON time_entries (timesheet_id, work_date, start_time);
