//! Batched timesheet lookups: an order's terms and weeks, a week's entries, a week by id.

use super::model::{self, EntryRow, TermsRow, TimesheetRow};
use crate::graphql::loader::{grouped_loader, keyed_loader};

keyed_loader!(
    /// Key: an order id → its hourly terms (none for a fixed-price order).
    TermsOf: model::terms_of => TermsRow, by order_id
);

keyed_loader!(
    /// Key: a timesheet id.
    TimesheetById: model::find_many => TimesheetRow, by id
);

grouped_loader!(
    /// Key: an order id → its timesheets, latest week first.
    TimesheetsOf: model::of_orders => TimesheetRow, by order_id
);

grouped_loader!(
    /// Key: a timesheet id → its entries, by day and start.
    EntriesOf: model::entries_of => EntryRow, by timesheet_id
);
