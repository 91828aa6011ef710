//! `ferry-bench`: the raw librdkafka side of `scripts/bench.sh`, and timing helpers.
//!
//! ```text
//! ferry-bench produce BOOTSTRAP TOPIC COUNT SIZE     raw produce; prints seconds
//! ferry-bench produce-json BOOTSTRAP TOPIC COUNT SIZE the same with JSON objects of about SIZE bytes
//!                                                    ({"id":n,"name":"record-<n>","payload":"…"})
//! ferry-bench consume BOOTSTRAP TOPIC COUNT          raw consume from the beginning; prints seconds
//! ferry-bench wait-topic BOOTSTRAP TOPIC COUNT [BASE] seconds until the topic holds COUNT records;
//!                                                    with BASE: waits until it holds BASE, prints
//!                                                    `ready`, then times COUNT records beyond BASE
//! ferry-bench wait-lines FILE COUNT                  seconds until FILE has COUNT lines
//! ferry-bench write-lines FILE COUNT SIZE            writes COUNT lines of SIZE bytes (newline included)
//! ferry-bench create-topic BOOTSTRAP TOPIC PARTITIONS creates a topic (replication factor 1)
//! ferry-bench delete-topics BOOTSTRAP PREFIX          deletes every topic whose name starts with PREFIX
//! ```
//!
//! `produce`, `consume`, `wait-topic` and `wait-lines` print a JSON line before the seconds with
//! the progress they saw (records sent, records received, records in the topic, lines in the
//! file), sampled every few milliseconds: `first_s` when the first record appeared, `t10_s` and
//! `t90_s` when 10 % and 90 % had, `max_gap_s`, the longest time without progress after the first
//! record, with `gap_at_s` where it began; and `cpu_s`, this process's CPU seconds.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::Message;

const DEADLINE: Duration = Duration::from_secs(600);

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |index: usize| -> anyhow::Result<&str> {
        args.get(index)
            .map(String::as_str)
            .context("missing argument; see the usage in the source")
    };
    let seconds = match arg(0)? {
        "produce" => produce(arg(1)?, arg(2)?, arg(3)?.parse()?, arg(4)?.parse()?, line)?,
        "produce-json" => produce(
            arg(1)?,
            arg(2)?,
            arg(3)?.parse()?,
            arg(4)?.parse()?,
            json_object,
        )?,
        "consume" => consume(arg(1)?, arg(2)?, arg(3)?.parse()?)?,
        "wait-topic" => {
            let base = args.get(4).map(|text| text.parse()).transpose()?;
            wait_topic(arg(1)?, arg(2)?, arg(3)?.parse()?, base)?
        }
        "wait-lines" => wait_lines(arg(1)?, arg(2)?.parse()?)?,
        "write-lines" => write_lines(arg(1)?, arg(2)?.parse()?, arg(3)?.parse()?)?,
        "create-topic" => create_topic(arg(1)?, arg(2)?, arg(3)?.parse()?)?,
        "delete-topics" => delete_topics(arg(1)?, arg(2)?)?,
        other => anyhow::bail!("unknown command {other}"),
    };
    println!("{seconds:.3}");
    Ok(())
}

/// User + system CPU seconds of this process, from `/proc/self/stat` (Linux).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ, which Linux fixes at 100 for /proc.
    Some((utime + stime) / 100.0)
}

/// How a count grew while a wait watched it.
struct Progress {
    started: Instant,
    target: usize,
    last_count: usize,
    last_change_s: Option<f64>,
    first_s: Option<f64>,
    t10_s: Option<f64>,
    t90_s: Option<f64>,
    max_gap_s: f64,
    gap_at_s: Option<f64>,
}

impl Progress {
    fn new(started: Instant, target: usize) -> Self {
        Progress {
            started,
            target,
            last_count: 0,
            last_change_s: None,
            first_s: None,
            t10_s: None,
            t90_s: None,
            max_gap_s: 0.0,
            gap_at_s: None,
        }
    }

    fn observe(&mut self, count: usize) {
        let now = self.started.elapsed().as_secs_f64();
        if count == self.last_count {
            return;
        }
        if let Some(last) = self.last_change_s {
            if now - last > self.max_gap_s {
                self.max_gap_s = now - last;
                self.gap_at_s = Some(last);
            }
        }
        self.last_change_s = Some(now);
        self.last_count = count;
        self.first_s.get_or_insert(now);
        if count * 10 >= self.target {
            self.t10_s.get_or_insert(now);
        }
        if count * 10 >= self.target * 9 {
            self.t90_s.get_or_insert(now);
        }
    }

    fn print(&self) {
        let opt = |value: Option<f64>| value.map_or("null".to_string(), |v| format!("{v:.3}"));
        println!(
            "{{\"first_s\":{},\"t10_s\":{},\"t90_s\":{},\"max_gap_s\":{:.3},\"gap_at_s\":{},\"cpu_s\":{}}}",
            opt(self.first_s),
            opt(self.t10_s),
            opt(self.t90_s),
            self.max_gap_s,
            opt(self.gap_at_s),
            opt(cpu_seconds())
        );
    }
}

fn line(index: usize, size: usize) -> Vec<u8> {
    let mut text = format!("record-{index:09} ").into_bytes();
    while text.len() < size {
        text.push(b'a' + u8::try_from(text.len() % 26).unwrap_or(0));
    }
    text.truncate(size);
    text
}

/// A JSON object of about `size` bytes (at least the id and name fields).
fn json_object(index: usize, size: usize) -> Vec<u8> {
    let head = format!("{{\"id\":{index},\"name\":\"record-{index:09}\",\"payload\":\"");
    let mut text = head.into_bytes();
    while text.len() + 2 < size {
        text.push(b'a' + u8::try_from(text.len() % 26).unwrap_or(0));
    }
    text.extend_from_slice(b"\"}");
    text
}

fn produce(
    bootstrap: &str,
    topic: &str,
    count: usize,
    size: usize,
    payload_of: fn(usize, usize) -> Vec<u8>,
) -> anyhow::Result<f64> {
    // The same producer settings as Ferry's source tasks.
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "500000")
        .create()?;
    let started = Instant::now();
    let mut progress = Progress::new(started, count);
    for index in 0..count {
        let payload = payload_of(index, size);
        loop {
            match producer.send(BaseRecord::<[u8], [u8]>::to(topic).payload(&payload)) {
                Ok(()) => break,
                Err((
                    rdkafka::error::KafkaError::MessageProduction(
                        rdkafka::types::RDKafkaErrorCode::QueueFull,
                    ),
                    _,
                )) => {
                    producer.poll(Duration::from_millis(5));
                }
                Err((error, _)) => anyhow::bail!("produce failed: {error}"),
            }
        }
        if index % 1000 == 0 {
            producer.poll(Duration::ZERO);
            progress.observe(index + 1);
        }
    }
    producer.flush(DEADLINE)?;
    progress.observe(count);
    progress.print();
    Ok(started.elapsed().as_secs_f64())
}

fn consume(bootstrap: &str, topic: &str, count: usize) -> anyhow::Result<f64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("ferry-bench-{}", std::process::id()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()?;
    consumer.subscribe(&[topic])?;
    let started = Instant::now();
    let mut progress = Progress::new(started, count);
    let mut seen = 0;
    while seen < count {
        anyhow::ensure!(
            started.elapsed() < DEADLINE,
            "consumed only {seen} of {count}"
        );
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message?;
            std::hint::black_box(message.payload());
            seen += 1;
            if seen % 1000 == 0 {
                progress.observe(seen);
            }
        }
    }
    progress.observe(seen);
    progress.print();
    Ok(started.elapsed().as_secs_f64())
}

/// Seconds until `topic` holds `count` records. With `base`: first waits (untimed) until it
/// holds `base`, prints `ready` (so a caller can start writing), then times `count` records
/// beyond `base`, the progress counting only those.
fn wait_topic(
    bootstrap: &str,
    topic: &str,
    count: usize,
    base: Option<usize>,
) -> anyhow::Result<f64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()?;
    let mut started = Instant::now();
    let mut progress = Progress::new(started, count);
    let mut waiting_for_base = base;
    // The topic's partitions, looked up until the topic exists (watermarks alone afterwards).
    let mut partitions: Vec<i32> = Vec::new();
    loop {
        if partitions.is_empty() {
            let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(5))?;
            partitions = metadata
                .topics()
                .iter()
                .flat_map(|entry| entry.partitions().iter().map(|p| p.id()))
                .collect();
        }
        let mut total = 0;
        for partition in &partitions {
            if let Ok((low, high)) =
                consumer.fetch_watermarks(topic, *partition, Duration::from_secs(5))
            {
                total += usize::try_from(high - low).unwrap_or(0);
            }
        }
        if let Some(wanted) = waiting_for_base {
            anyhow::ensure!(
                started.elapsed() < DEADLINE,
                "topic holds only {total} of the {wanted} records before the timed ones"
            );
            if total >= wanted {
                waiting_for_base = None;
                println!("ready");
                std::io::stdout().flush()?;
                started = Instant::now();
                progress = Progress::new(started, count);
            } else {
                std::thread::park_timeout(Duration::from_millis(5));
            }
            continue;
        }
        let total = total.saturating_sub(base.unwrap_or(0));
        progress.observe(total);
        if total >= count {
            progress.print();
            return Ok(started.elapsed().as_secs_f64());
        }
        anyhow::ensure!(
            started.elapsed() < DEADLINE,
            "topic holds only {total} of {count}"
        );
        std::thread::park_timeout(Duration::from_millis(5));
    }
}

fn wait_lines(path: &str, count: usize) -> anyhow::Result<f64> {
    use std::io::Read;
    let started = Instant::now();
    let mut progress = Progress::new(started, count);
    let mut lines = 0;
    let mut file_opt: Option<std::fs::File> = None;
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        if file_opt.is_none() {
            file_opt = std::fs::File::open(path).ok();
        }
        if let Some(file) = file_opt.as_mut() {
            // Count only what was appended since the last look.
            loop {
                let read = file.read(&mut chunk)?;
                if read == 0 {
                    break;
                }
                lines += chunk[..read].iter().filter(|byte| **byte == b'\n').count();
            }
        }
        progress.observe(lines);
        if lines >= count {
            progress.print();
            return Ok(started.elapsed().as_secs_f64());
        }
        anyhow::ensure!(
            started.elapsed() < DEADLINE,
            "{path} has only {lines} of {count} lines"
        );
        std::thread::park_timeout(Duration::from_millis(5));
    }
}

fn write_lines(path: &str, count: usize, size: usize) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    for index in 0..count {
        file.write_all(&line(index, size.saturating_sub(1)))?;
        file.write_all(b"\n")?;
    }
    file.flush()?;
    Ok(started.elapsed().as_secs_f64())
}

fn admin(
    bootstrap: &str,
) -> anyhow::Result<(AdminClient<DefaultClientContext>, tokio::runtime::Runtime)> {
    let admin = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok((admin, runtime))
}

fn create_topic(bootstrap: &str, topic: &str, partitions: i32) -> anyhow::Result<f64> {
    let started = Instant::now();
    let (admin, runtime) = admin(bootstrap)?;
    let new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let results = runtime.block_on(admin.create_topics(
        [&new_topic],
        &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
    ))?;
    for result in results {
        if let Err((name, code)) = result {
            anyhow::bail!("failed to create topic `{name}`: {code}");
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

fn delete_topics(bootstrap: &str, prefix: &str) -> anyhow::Result<f64> {
    anyhow::ensure!(
        !prefix.is_empty(),
        "refusing to delete topics with an empty prefix"
    );
    let started = Instant::now();
    let (admin, runtime) = admin(bootstrap)?;
    let metadata = admin
        .inner()
        .fetch_metadata(None, Duration::from_secs(10))?;
    let names: Vec<&str> = metadata
        .topics()
        .iter()
        .map(rdkafka::metadata::MetadataTopic::name)
        .filter(|name| name.starts_with(prefix))
        .collect();
    if names.is_empty() {
        return Ok(started.elapsed().as_secs_f64());
    }
    let results = runtime.block_on(admin.delete_topics(
        &names,
        &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
    ))?;
    for result in results {
        if let Err((name, code)) = result {
            anyhow::bail!("failed to delete topic `{name}`: {code}");
        }
    }
    Ok(started.elapsed().as_secs_f64())
}
