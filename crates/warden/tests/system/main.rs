//! Warden's system tests: the real HTTP API on a real database, and the real `warden` binary as
//! an operator runs it (kill -9, two nodes on one PostgreSQL, first start, `audit verify`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests may unwrap (STYLE 5)

mod support;

mod adapters;
mod assessments;
mod bgp;
mod browser;
mod console;
mod console_access;
mod console_assessments;
mod console_ddos;
mod console_pages;
mod console_story;
mod ddos;
mod ddos_retention;
mod ddos_rules;
mod demo;
mod enforcement;
mod flows;
mod intake;
mod isolation;
mod lifecycle;
mod mail;
mod notices;
mod process;
mod regress_contract;
mod regress_intake;
mod regress_lifecycle;
mod regress_ops;
mod regress_seams;
mod regress_targets;
mod scan;
mod smtp;
mod vulnerabilities;
