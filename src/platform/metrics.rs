//! Prometheus metrics: HTTP requests and latency by route and status, jobs by queue and outcome,
//! queue depth (read from the backend at scrape time), worker health; modules add their own
//! families through [`Metrics::counter`] and [`Metrics::histogram`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

use super::jobs::{Jobs, Queue};

#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_latency: HistogramVec,
    jobs: IntCounterVec,
    job_latency: HistogramVec,
    queue_depth: IntGaugeVec,
    jobs_running: IntGaugeVec,
    worker_stalls: IntCounterVec,
    worker_restarts: IntCounterVec,
    probe_pickup: prometheus::Histogram,
    /// Families modules register for themselves, by name.
    families: Arc<Mutex<HashMap<&'static str, Family>>>,
}

#[derive(Clone, Debug)]
enum Family {
    Counter(IntCounterVec),
    Histogram(HistogramVec),
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("sous".into()), None).expect("valid registry prefix");
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered"),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let http_latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to answer an HTTP request",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let jobs = IntCounterVec::new(
            Opts::new(
                "jobs_total",
                "Job attempts by outcome (succeeded, retried, dead)",
            ),
            &["queue", "outcome"],
        )
        .expect("valid metric");
        let job_latency = HistogramVec::new(
            HistogramOpts::new("job_duration_seconds", "Time a job attempt ran").buckets(vec![
                0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 1800.0,
            ]),
            &["queue", "outcome"],
        )
        .expect("valid metric");
        let queue_depth = IntGaugeVec::new(
            Opts::new("queue_depth", "Jobs waiting in a queue"),
            &["queue"],
        )
        .expect("valid metric");
        let jobs_running = IntGaugeVec::new(
            Opts::new("jobs_running", "Job attempts running in this process"),
            &["queue"],
        )
        .expect("valid metric");
        let worker_stalls = IntCounterVec::new(
            Opts::new(
                "job_worker_stalls_total",
                "Queue workers found silent while jobs were due, and restarted",
            ),
            &["queue"],
        )
        .expect("valid metric");
        let worker_restarts = IntCounterVec::new(
            Opts::new(
                "job_worker_restarts_total",
                "Queue workers restarted after a stall or a backend failure",
            ),
            &["queue"],
        )
        .expect("valid metric");
        let probe_pickup = prometheus::Histogram::with_opts(
            HistogramOpts::new(
                "job_probe_pickup_seconds",
                "Time a probe job waited before a worker took it",
            )
            .buckets(vec![0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 30.0]),
        )
        .expect("valid metric");
        for collector in [
            Box::new(probe_pickup.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_requests.clone()),
            Box::new(http_latency.clone()),
            Box::new(jobs.clone()),
            Box::new(job_latency.clone()),
            Box::new(queue_depth.clone()),
            Box::new(jobs_running.clone()),
            Box::new(worker_stalls.clone()),
            Box::new(worker_restarts.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric registered once");
        }
        Metrics {
            registry,
            http_requests,
            http_latency,
            jobs,
            job_latency,
            queue_depth,
            jobs_running,
            worker_stalls,
            worker_restarts,
            probe_pickup,
            families: Arc::default(),
        }
    }

    /// A module's counter family `sous_<name>`, registered on first use; later calls with the
    /// same name return the same family. A name used for another kind of metric is a bug.
    pub fn counter(&self, name: &'static str, help: &str, labels: &[&str]) -> IntCounterVec {
        let family = self.family(name, || {
            Family::Counter(
                IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric"),
            )
        });
        match family {
            Family::Counter(counter) => counter,
            Family::Histogram(_) => panic!("metric {name} is a histogram, not a counter"),
        }
    }

    /// A module's histogram family `sous_<name>` in seconds, registered on first use.
    pub fn histogram(
        &self,
        name: &'static str,
        help: &str,
        labels: &[&str],
        buckets: &[f64],
    ) -> HistogramVec {
        let family = self.family(name, || {
            let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
            Family::Histogram(HistogramVec::new(opts, labels).expect("valid metric"))
        });
        match family {
            Family::Histogram(histogram) => histogram,
            Family::Counter(_) => panic!("metric {name} is a counter, not a histogram"),
        }
    }

    fn family(&self, name: &'static str, make: impl FnOnce() -> Family) -> Family {
        let mut families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        families
            .entry(name)
            .or_insert_with(|| {
                let family = make();
                let collector: Box<dyn prometheus::core::Collector> = match &family {
                    Family::Counter(counter) => Box::new(counter.clone()),
                    Family::Histogram(histogram) => Box::new(histogram.clone()),
                };
                self.registry
                    .register(collector)
                    .expect("a module metric's name is its own");
                family
            })
            .clone()
    }

    pub fn probe_picked_up(&self, waited: Duration) {
        self.probe_pickup.observe(waited.as_secs_f64());
    }

    /// Probe jobs seen so far by this process's workers.
    pub fn probes_picked_up(&self) -> u64 {
        self.probe_pickup.get_sample_count()
    }

    pub fn http_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let status = status.to_string();
        let labels = [method, route, status.as_str()];
        self.http_requests.with_label_values(&labels).inc();
        self.http_latency
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }

    pub fn job_finished(&self, queue: Queue, outcome: &str, elapsed: Duration) {
        let labels = [queue.name(), outcome];
        self.jobs.with_label_values(&labels).inc();
        self.job_latency
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Counts a job attempt as running until the returned guard drops.
    pub fn job_running(&self, queue: Queue) -> RunningJob {
        let gauge = self.jobs_running.with_label_values(&[queue.name()]);
        gauge.inc();
        RunningJob(gauge)
    }

    /// Job attempts running in this process on `queue`.
    pub fn jobs_running(&self, queue: Queue) -> u64 {
        self.jobs_running
            .with_label_values(&[queue.name()])
            .get()
            .max(0) as u64
    }

    /// Job attempts this process finished on `queue`, whatever their outcome.
    pub fn jobs_finished(&self, queue: Queue) -> u64 {
        ["succeeded", "retried", "dead"]
            .iter()
            .map(|outcome| self.jobs.with_label_values(&[queue.name(), outcome]).get())
            .sum()
    }

    pub fn job_worker_stalled(&self, queue: Queue) {
        self.worker_stalls.with_label_values(&[queue.name()]).inc();
    }

    pub fn job_worker_restarted(&self, queue: Queue) {
        self.worker_restarts
            .with_label_values(&[queue.name()])
            .inc();
    }

    /// The text exposition, after refreshing queue depths from the backend.
    pub async fn render(&self, jobs: &Jobs) -> String {
        let backend = jobs.backend();
        for queue in jobs.registry().queues() {
            match backend.pending(queue).await {
                Ok(depth) => self
                    .queue_depth
                    .with_label_values(&[queue.name()])
                    .set(depth as i64),
                Err(error) => tracing::warn!(%queue, %error, "cannot read queue depth"),
            }
        }
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding of metrics cannot fail");
        String::from_utf8(buffer).expect("metrics text is UTF-8")
    }
}

/// A running job attempt, counted in `sous_jobs_running` while it lives.
pub struct RunningJob(prometheus::IntGauge);

impl Drop for RunningJob {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_families_are_registered_once_and_exposed() {
        let metrics = Metrics::new();
        let made = || metrics.counter("widgets_made_total", "Widgets made", &["kind"]);
        made().with_label_values(&["round"]).inc();
        made().with_label_values(&["round"]).inc();
        assert_eq!(made().with_label_values(&["round"]).get(), 2);
        metrics
            .histogram("widget_seconds", "Time per widget", &["kind"], &[0.1, 1.0])
            .with_label_values(&["round"])
            .observe(0.5);
        let mut text = Vec::new();
        TextEncoder::new()
            .encode(&metrics.registry.gather(), &mut text)
            .unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.contains(r#"sous_widgets_made_total{kind="round"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"sous_widget_seconds_count{kind="round"} 1"#),
            "{text}"
        );
    }
}
