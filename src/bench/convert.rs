//! The edge between the load generator's own types ([`loadgen::types`]) and the versioned
//! ones meshtop records, saves and reports ([`crate::model::bench`]). Every conversion
//! destructures its source whole, so a field added to the engine fails to build here until
//! someone decides whether meshtop keeps it.

use loadgen::types as engine;

use crate::model::bench as wire;

impl From<engine::RateStep> for wire::RateStep {
    fn from(engine::RateStep { rate, duration }: engine::RateStep) -> Self {
        wire::RateStep { rate, duration }
    }
}

impl From<engine::TlsFiles> for wire::TlsFiles {
    fn from(engine::TlsFiles { cacert, cert, key }: engine::TlsFiles) -> Self {
        wire::TlsFiles { cacert, cert, key }
    }
}

impl From<engine::BenchSpec> for wire::BenchSpec {
    fn from(s: engine::BenchSpec) -> Self {
        let engine::BenchSpec {
            url,
            method,
            headers,
            connections,
            streams,
            threads,
            rate,
            ramp,
            duration,
            requests,
            warmup,
            timeout,
            http2,
            insecure,
            tls,
            label,
            threads_note,
        } = s;
        wire::BenchSpec {
            url,
            method,
            headers,
            connections,
            streams,
            threads,
            rate,
            ramp: ramp.into_iter().map(Into::into).collect(),
            duration,
            requests,
            warmup,
            timeout,
            http2,
            insecure,
            tls: tls.into(),
            label,
            threads_note,
        }
    }
}

impl From<engine::ErrorKind> for wire::ErrorKind {
    fn from(k: engine::ErrorKind) -> Self {
        use engine::ErrorKind as E;
        use wire::ErrorKind as W;
        match k {
            E::Connect => W::Connect,
            E::Tls => W::Tls,
            E::Timeout => W::Timeout,
            E::Reset => W::Reset,
            E::Other => W::Other,
        }
    }
}

impl From<engine::ErrorCounts> for wire::ErrorCounts {
    fn from(e: engine::ErrorCounts) -> Self {
        let engine::ErrorCounts {
            connect,
            timeout,
            reset,
            tls,
            other,
        } = e;
        wire::ErrorCounts {
            connect,
            timeout,
            reset,
            tls,
            other,
        }
    }
}

impl From<engine::Bin> for wire::Bin {
    fn from(engine::Bin { start, end, count }: engine::Bin) -> Self {
        wire::Bin { start, end, count }
    }
}

impl From<engine::Distribution> for wire::Distribution {
    fn from(d: engine::Distribution) -> Self {
        let engine::Distribution {
            count,
            min,
            max,
            mean,
            stddev,
            p50,
            p75,
            p90,
            p95,
            p99,
            p999,
            p9999,
            bins,
        } = d;
        wire::Distribution {
            count,
            min,
            max,
            mean,
            stddev,
            p50,
            p75,
            p90,
            p95,
            p99,
            p999,
            p9999,
            bins: bins.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<engine::SecondStats> for wire::SecondStats {
    fn from(s: engine::SecondStats) -> Self {
        let engine::SecondStats {
            second,
            requests,
            errors,
            rps,
            p50_us,
            p99_us,
            max_us,
        } = s;
        wire::SecondStats {
            second,
            requests,
            errors,
            rps,
            p50_us,
            p99_us,
            max_us,
        }
    }
}

impl From<engine::Phase> for wire::Phase {
    fn from(p: engine::Phase) -> Self {
        use engine::Phase as E;
        use wire::Phase as W;
        match p {
            E::Connecting => W::Connecting,
            E::Warmup => W::Warmup,
            E::Running => W::Running,
            E::Draining => W::Draining,
            E::Finished => W::Finished,
        }
    }
}

impl From<engine::BenchProgress> for wire::BenchProgress {
    fn from(p: engine::BenchProgress) -> Self {
        let engine::BenchProgress {
            phase,
            elapsed_s,
            warmup_left_s,
            target_duration_s,
            target_requests,
            requests,
            responses,
            current_rps,
            requested_rate,
            p50_us,
            p90_us,
            p99_us,
            p999_us,
            histogram,
            status,
            errors,
            bytes_sent,
            bytes_received,
        } = p;
        wire::BenchProgress {
            phase: phase.into(),
            elapsed_s,
            warmup_left_s,
            target_duration_s,
            target_requests,
            requests,
            responses,
            current_rps,
            requested_rate,
            p50_us,
            p90_us,
            p99_us,
            p999_us,
            histogram: histogram.into_iter().map(Into::into).collect(),
            status,
            errors: errors.into(),
            bytes_sent,
            bytes_received,
        }
    }
}

/// A finished run as meshtop keeps it: this version's schema and meshtop's version; where
/// it ran and through which mesh are for the caller to add.
impl From<engine::BenchResult> for wire::BenchResult {
    fn from(r: engine::BenchResult) -> Self {
        let engine::BenchResult {
            label,
            url,
            config,
            body_bytes,
            protocol,
            threads,
            started_at,
            ended_at,
            duration_s,
            cancelled,
            requested_rate,
            achieved_rate,
            requests,
            responses,
            warmup_requests,
            status,
            errors,
            error_samples,
            latency,
            latency_uncorrected,
            schedule_lag,
            body_sizes,
            header_sizes,
            bytes_sent,
            bytes_received,
            connections_opened,
            reconnects,
            series,
        } = r;
        wire::BenchResult {
            schema_version: wire::SCHEMA_VERSION,
            format: wire::SCHEMA_VERSION,
            meshtop_version: env!("CARGO_PKG_VERSION").to_string(),
            label,
            url,
            config: config.into(),
            body_bytes,
            protocol,
            threads,
            started_at,
            ended_at,
            duration_s,
            cancelled,
            requested_rate,
            achieved_rate,
            requests,
            responses,
            warmup_requests,
            status,
            errors: errors.into(),
            error_samples: error_samples.into_iter().map(|(k, v)| (k.into(), v)).collect(),
            latency: latency.into(),
            latency_uncorrected: latency_uncorrected.into(),
            schedule_lag: schedule_lag.map(Into::into),
            body_sizes: body_sizes.into(),
            header_sizes: header_sizes.into(),
            bytes_sent,
            bytes_received,
            connections_opened,
            reconnects,
            series: series.into_iter().map(Into::into).collect(),
            environment: None,
            mesh: None,
            agents: None,
        }
    }
}

// Back to the engine's types: a saved or merged result reported in the load generator's
// formats ([`loadgen::report`]). What only meshtop's result holds (its version, the
// cluster, the mesh, the agents) goes to the report's context instead.

impl From<wire::RateStep> for engine::RateStep {
    fn from(wire::RateStep { rate, duration }: wire::RateStep) -> Self {
        engine::RateStep { rate, duration }
    }
}

impl From<wire::TlsFiles> for engine::TlsFiles {
    fn from(wire::TlsFiles { cacert, cert, key }: wire::TlsFiles) -> Self {
        engine::TlsFiles { cacert, cert, key }
    }
}

impl From<wire::BenchSpec> for engine::BenchSpec {
    fn from(s: wire::BenchSpec) -> Self {
        let wire::BenchSpec {
            url,
            method,
            headers,
            connections,
            streams,
            threads,
            rate,
            ramp,
            duration,
            requests,
            warmup,
            timeout,
            http2,
            insecure,
            tls,
            label,
            threads_note,
        } = s;
        engine::BenchSpec {
            url,
            method,
            headers,
            connections,
            streams,
            threads,
            rate,
            ramp: ramp.into_iter().map(Into::into).collect(),
            duration,
            requests,
            warmup,
            timeout,
            http2,
            insecure,
            tls: tls.into(),
            label,
            threads_note,
        }
    }
}

impl From<wire::ErrorKind> for engine::ErrorKind {
    fn from(k: wire::ErrorKind) -> Self {
        use engine::ErrorKind as E;
        use wire::ErrorKind as W;
        match k {
            W::Connect => E::Connect,
            W::Tls => E::Tls,
            W::Timeout => E::Timeout,
            W::Reset => E::Reset,
            W::Other => E::Other,
        }
    }
}

impl From<wire::ErrorCounts> for engine::ErrorCounts {
    fn from(e: wire::ErrorCounts) -> Self {
        let wire::ErrorCounts {
            connect,
            timeout,
            reset,
            tls,
            other,
        } = e;
        engine::ErrorCounts {
            connect,
            timeout,
            reset,
            tls,
            other,
        }
    }
}

impl From<wire::Bin> for engine::Bin {
    fn from(wire::Bin { start, end, count }: wire::Bin) -> Self {
        engine::Bin { start, end, count }
    }
}

impl From<wire::Distribution> for engine::Distribution {
    fn from(d: wire::Distribution) -> Self {
        let wire::Distribution {
            count,
            min,
            max,
            mean,
            stddev,
            p50,
            p75,
            p90,
            p95,
            p99,
            p999,
            p9999,
            bins,
        } = d;
        engine::Distribution {
            count,
            min,
            max,
            mean,
            stddev,
            p50,
            p75,
            p90,
            p95,
            p99,
            p999,
            p9999,
            bins: bins.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<wire::SecondStats> for engine::SecondStats {
    fn from(s: wire::SecondStats) -> Self {
        let wire::SecondStats {
            second,
            requests,
            errors,
            rps,
            p50_us,
            p99_us,
            max_us,
        } = s;
        engine::SecondStats {
            second,
            requests,
            errors,
            rps,
            p50_us,
            p99_us,
            max_us,
        }
    }
}

impl From<wire::BenchResult> for engine::BenchResult {
    fn from(r: wire::BenchResult) -> Self {
        let wire::BenchResult {
            schema_version: _,
            format: _,
            meshtop_version: _,
            label,
            url,
            config,
            body_bytes,
            protocol,
            threads,
            started_at,
            ended_at,
            duration_s,
            cancelled,
            requested_rate,
            achieved_rate,
            requests,
            responses,
            warmup_requests,
            status,
            errors,
            error_samples,
            latency,
            latency_uncorrected,
            schedule_lag,
            body_sizes,
            header_sizes,
            bytes_sent,
            bytes_received,
            connections_opened,
            reconnects,
            series,
            environment: _,
            mesh: _,
            agents: _,
        } = r;
        engine::BenchResult {
            label,
            url,
            config: config.into(),
            body_bytes,
            protocol,
            threads,
            started_at,
            ended_at,
            duration_s,
            cancelled,
            requested_rate,
            achieved_rate,
            requests,
            responses,
            warmup_requests,
            status,
            errors: errors.into(),
            error_samples: error_samples.into_iter().map(|(k, v)| (k.into(), v)).collect(),
            latency: latency.into(),
            latency_uncorrected: latency_uncorrected.into(),
            schedule_lag: schedule_lag.map(Into::into),
            body_sizes: body_sizes.into(),
            header_sizes: header_sizes.into(),
            bytes_sent,
            bytes_received,
            connections_opened,
            reconnects,
            series: series.into_iter().map(Into::into).collect(),
        }
    }
}
