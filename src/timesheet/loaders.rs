//! Batched timesheet lookups: an order's terms and weeks, a week's entries, a week by id.

use super::model::{self, EntryRow, TermsRow, TimesheetRow};
use crate::graphql::loader::{grouped_loader, keyed_loader, RequestLoader};

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

/// Drops what the loader remembers of timesheets (with [`crate::order::loaders::forget_orders`],
/// for a subscription's long-lived loader: each delivery reads the weeks as they are now).
pub fn forget_timesheets(loader: &RequestLoader) {
    loader.clear::<TermsOf>();
    loader.clear::<TimesheetById>();
    loader.clear::<TimesheetsOf>();
    loader.clear::<EntriesOf>();
}
