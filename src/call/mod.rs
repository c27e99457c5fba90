//! Video calls (seed 000): instant calls and scheduled ones between members who share a
//! conversation, a task or an order, in rooms at a configurable video provider.
//!
//! Owns `calls` and `call_participants`. Invariants:
//! - a call's room id is 128 random bits (lowercase hex, so providers that fold case keep
//!   them all) and its room URL is `VIDEO_ROOM_BASE_URL/<room id>`, built in one place
//!   ([`invite::room_url`]);
//! - the initiator invites 1 to 8 other members, each of whom shares something with them: the
//!   order (`orderId`: its other party), the task (`taskId`: poster with applicant or
//!   assignee), or, untied, any conversation, task or order. Anyone else is a
//!   `VALIDATION_ERROR` on `participantIds`; a task or order the initiator is not part of is
//!   `NOT_FOUND`;
//! - a scheduled call lasts 5 to 240 minutes, starts in the future (within a year), and
//!   overlaps no member's other scheduled or active call, nor a day booked on a member's
//!   calendar (in their profile's time zone) by another order than the call's own:
//!   `CONFLICT`; per-member transaction locks make the check hold under concurrency;
//! - only participants see or act on a call (`NOT_FOUND` for anyone else); any participant
//!   joins (a scheduled call from 15 minutes before its start; the first join starts it) and
//!   ends an active call; only the initiator cancels, and only a call not yet started;
//! - the invitees are notified (CALL_SCHEDULED) in the transaction that creates the call;
//!   15 minutes before a scheduled call, every participant gets a reminder mail with the
//!   call's calendar file (RFC 5545) and a CALL_SCHEDULED notification, claimed once across
//!   instances.

pub mod graphql;
pub mod invite;
pub mod loaders;
pub mod model;
pub mod service;
