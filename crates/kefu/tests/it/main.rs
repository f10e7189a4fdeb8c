//! Integration suite: a real kefu server over HTTP and WebSocket, against SQLite and PostgreSQL.
//! Every scenario runs once per backend (`<module>::<scenario>::sqlite` / `::postgres`);
//! PostgreSQL is required (`KEFU_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/test`).

mod harness;

mod aftersales;
mod attachments;
mod backup;
mod cards;
mod chat;
mod commerce;
mod console;
mod contract;
mod customers;
mod durability;
mod embed;
mod errors;
mod faults;
mod hardening;
mod inbox;
mod isolation;
mod kpi;
mod live;
mod mail;
mod members;
mod presence;
mod reports;
mod reviews;
mod routing;
mod scripts;
mod search;
mod segments;
mod sla;
mod suggest;
mod text;
mod tickets;
mod tools;
