//! Integration tests: a real app on a free port, real SQLite files, Redis and PostgreSQL when
//! their URLs are given (`SOUS_TEST_REDIS_URL`, `SOUS_TEST_DATABASE_URL`).

mod ads;
mod bulk;
mod cache;
mod config;
mod console;
mod events;
mod helpers;
mod http;
mod images;
mod job_chains;
mod job_orphans;
mod job_queues;
mod job_stalls;
mod jobs;
mod labels;
mod meal_photos;
mod migrations;
mod readiness;
mod scheduler;
mod storage;
mod uploads;
