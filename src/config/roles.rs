//! The roles a process runs: `sous serve --roles api,worker,scheduler`.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The roles a process runs; any non-empty subset of api, worker, scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Roles {
    pub api: bool,
    pub worker: bool,
    pub scheduler: bool,
}

impl Roles {
    pub const ALL: Roles = Roles {
        api: true,
        worker: true,
        scheduler: true,
    };
}

impl FromStr for Roles {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut roles = Roles {
            api: false,
            worker: false,
            scheduler: false,
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "api" => roles.api = true,
                "worker" => roles.worker = true,
                "scheduler" => roles.scheduler = true,
                "all" => roles = Roles::ALL,
                other => {
                    return Err(format!(
                        "unknown role `{other}`: expected a comma-separated list of api, worker, scheduler (or all)"
                    ));
                }
            }
        }
        if roles
            == (Roles {
                api: false,
                worker: false,
                scheduler: false,
            })
        {
            return Err("no role given: expected api, worker, scheduler or all".into());
        }
        Ok(roles)
    }
}

impl TryFrom<String> for Roles {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Roles> for String {
    fn from(r: Roles) -> String {
        let mut parts = Vec::new();
        if r.api {
            parts.push("api");
        }
        if r.worker {
            parts.push("worker");
        }
        if r.scheduler {
            parts.push("scheduler");
        }
        parts.join(",")
    }
}

impl std::fmt::Display for Roles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from(*self))
    }
}
