//! The inference worker pool: N threads, each owning one session per model (`Session::run` takes
//! `&mut self`, so sessions are never shared), batching frames from all cameras.
//!
//! Each model has one bounded request queue. A worker waits on all queues; when a request
//! arrives it keeps taking requests for the same model until the batch is full (`max_batch`) or
//! the first request has waited `max_wait`, then runs them as one batch.
//!
//! Backpressure: `submit` never blocks; when a model's queue is full the request comes back to
//! the caller, who drops the frame and counts it. Responses are never dropped: workers block on
//! the response channel.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Select, Sender, TrySendError};

use super::model::{ImageRef, Model, ModelOutput, RunTimings};
use super::tiles::{TiledFrame, Tiling};
use super::{Device, InferenceError, Manifest};
use crate::domain::Frame;

/// Pool settings.
#[derive(Debug, Clone, Copy)]
pub struct PoolConfig {
    pub workers: usize,
    pub threads_per_worker: usize,
    pub max_batch: usize,
    pub max_wait: Duration,
    pub device: Device,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            workers: 1,
            threads_per_worker: 1,
            max_batch: 4,
            max_wait: Duration::from_millis(10),
            device: Device::Cpu,
        }
    }
}

/// A frame to run through one model.
#[derive(Debug, Clone)]
pub struct Request {
    pub frame: Arc<Frame>,
    /// Index of the model in the list the pool was started with.
    pub model: usize,
    /// A text detector with tiles: the whole frame plus tiles of this region
    /// ([`run_frame_tiled`]); `None`: the frame as it is.
    pub tiling: Option<Arc<Tiling>>,
}

/// The answer to one request.
#[derive(Debug)]
pub struct Response {
    pub frame: Arc<Frame>,
    pub model: usize,
    pub output: Result<ModelOutput, String>,
    /// Timings of the batch this request ran in.
    pub timings: RunTimings,
    /// Time from `submit` to the start of the run.
    pub queued: Duration,
}

struct Queued {
    request: Request,
    submitted: Instant,
}

/// Running inference workers. Dropping the pool (or `shutdown`) stops them after their queues
/// drain.
pub struct InferencePool {
    queues: Vec<Sender<Queued>>,
    workers: Vec<JoinHandle<()>>,
    classes: Vec<Vec<String>>,
    manifests: Vec<Arc<Manifest>>,
}

impl std::fmt::Debug for InferencePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InferencePool")
            .field(
                "models",
                &self.manifests.iter().map(|m| &m.name).collect::<Vec<_>>(),
            )
            .field("workers", &self.workers.len())
            .finish()
    }
}

impl InferencePool {
    /// Opens every model in every worker and starts the workers. Fails, naming the model, when
    /// any model cannot be opened.
    pub fn start(
        manifests: Vec<Arc<Manifest>>,
        config: PoolConfig,
        responses: Sender<Response>,
    ) -> Result<InferencePool, InferenceError> {
        let workers = config.workers.max(1);
        let capacity = (workers * config.max_batch.max(1) * 2).max(8);
        let (senders, receivers): (Vec<_>, Vec<_>) = manifests
            .iter()
            .map(|_| bounded::<Queued>(capacity))
            .unzip();
        let (ready_tx, ready_rx) = bounded::<Result<Vec<Vec<String>>, InferenceError>>(workers);
        let mut handles = Vec::with_capacity(workers);
        for index in 0..workers {
            let manifests = manifests.clone();
            let receivers = receivers.clone();
            let responses = responses.clone();
            let ready = ready_tx.clone();
            let handle = std::thread::Builder::new()
                .name(format!("inference-{index}"))
                .spawn(move || {
                    let opened: Result<Vec<Model>, InferenceError> = manifests
                        .into_iter()
                        .map(|m| Model::open(m, config.device, config.threads_per_worker))
                        .collect();
                    match opened {
                        Ok(models) => {
                            let classes = models.iter().map(|m| m.classes().to_vec()).collect();
                            let _ = ready.send(Ok(classes));
                            drop(ready);
                            worker_loop(models, &receivers, &responses, &config);
                        }
                        Err(e) => {
                            let _ = ready.send(Err(e));
                        }
                    }
                })
                .map_err(|e| InferenceError::Ort {
                    model: String::new(),
                    action: "starting a worker thread",
                    message: e.to_string(),
                })?;
            handles.push(handle);
        }
        drop(ready_tx);
        let mut classes = Vec::new();
        let mut failure = None;
        for _ in 0..workers {
            match ready_rx.recv() {
                Ok(Ok(c)) => classes = c,
                Ok(Err(e)) => failure = failure.or(Some(e)),
                Err(_) => break,
            }
        }
        let pool = InferencePool {
            queues: senders,
            workers: handles,
            classes,
            manifests,
        };
        match failure {
            Some(e) => {
                pool.shutdown();
                Err(e)
            }
            None => Ok(pool),
        }
    }

    /// Queues a request without blocking. A full queue gives the request back.
    pub fn submit(&self, request: Request) -> Result<(), Request> {
        let Some(queue) = self.queues.get(request.model) else {
            return Err(request);
        };
        let queued = Queued {
            request,
            submitted: Instant::now(),
        };
        match queue.try_send(queued) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(q) | TrySendError::Disconnected(q)) => Err(q.request),
        }
    }

    /// Class names of a model, in class-id order.
    pub fn classes(&self, model: usize) -> &[String] {
        self.classes.get(model).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn manifests(&self) -> &[Arc<Manifest>] {
        &self.manifests
    }

    /// Requests waiting, per model.
    pub fn queued(&self) -> Vec<usize> {
        self.queues.iter().map(Sender::len).collect()
    }

    /// Stops taking requests, lets the workers finish what is queued, and joins them.
    pub fn shutdown(self) {
        drop(self.queues);
        for worker in self.workers {
            let _ = worker.join();
        }
    }
}

fn worker_loop(
    mut models: Vec<Model>,
    receivers: &[Receiver<Queued>],
    responses: &Sender<Response>,
    config: &PoolConfig,
) {
    let mut open: Vec<bool> = vec![true; receivers.len()];
    let mut batch: Vec<Queued> = Vec::with_capacity(config.max_batch.max(1));
    while open.iter().any(|o| *o) {
        let mut select = Select::new();
        let mut index_of = Vec::new();
        for (i, rx) in receivers.iter().enumerate() {
            if open[i] {
                select.recv(rx);
                index_of.push(i);
            }
        }
        let op = select.select();
        let model = index_of[op.index()];
        let first = match op.recv(&receivers[model]) {
            Ok(q) => q,
            Err(_) => {
                open[model] = false;
                continue;
            }
        };
        let limit = models[model].max_batch(config.max_batch);
        let deadline = first.submitted + config.max_wait;
        batch.clear();
        batch.push(first);
        while batch.len() < limit {
            match receivers[model].recv_deadline(deadline) {
                Ok(q) => batch.push(q),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        if !run_batch(&mut models[model], model, &mut batch, responses) {
            return;
        }
    }
}

/// Runs a text detector's tiled pass on a frame ([`Model::run_with_tiles`]), boxes in pixels of
/// the analysis frame. The tiles come from the frame's full-resolution detail when analysis
/// attached one; without it (a frame built elsewhere, or a detail that missed) from the analysis frame
/// itself, upscaled by as much more as it is smaller than the source, so the tiles are the same.
pub fn run_frame_tiled(
    model: &mut Model,
    frame: &Frame,
    tiling: &Tiling,
) -> Result<(ModelOutput, RunTimings), InferenceError> {
    let whole = ImageRef {
        rgb: &frame.rgb,
        width: frame.width,
        height: frame.height,
    };
    let full_size = (
        frame.source_width.max(frame.width),
        frame.source_height.max(frame.height),
    );
    let with_detail = frame.detail.as_deref().and_then(|d| {
        let detail = ImageRef {
            rgb: &d.rgb,
            width: d.width,
            height: d.height,
        };
        TiledFrame::with_detail(whole, detail, (d.x, d.y), full_size, tiling)
    });
    match with_detail {
        Some(tiled) => model.run_with_tiles(&tiled, tiling.scale),
        None => {
            let more = full_size.0 as f32 / frame.width.max(1) as f32;
            match TiledFrame::same(whole, &tiling.region, &tiling.zones) {
                Some(tiled) => model.run_with_tiles(&tiled, tiling.scale * more),
                None => {
                    let (outputs, timings) = model.run(&[whole])?;
                    Ok((outputs.into_iter().next().unwrap_or_default(), timings))
                }
            }
        }
    }
}

/// Runs one batch and sends one response per request. Returns false when nobody listens.
/// Requests with tiles run one by one, each with its tiles as one batch.
fn run_batch(
    model: &mut Model,
    index: usize,
    batch: &mut Vec<Queued>,
    responses: &Sender<Response>,
) -> bool {
    let started = Instant::now();
    let (tiled, plain): (Vec<Queued>, Vec<Queued>) =
        batch.drain(..).partition(|q| q.request.tiling.is_some());
    let images: Vec<ImageRef<'_>> = plain
        .iter()
        .map(|q| ImageRef {
            rgb: &q.request.frame.rgb,
            width: q.request.frame.width,
            height: q.request.frame.height,
        })
        .collect();
    let mut done: Vec<(Queued, Result<ModelOutput, String>, RunTimings)> = Vec::new();
    if !images.is_empty() {
        let result = model.run(&images);
        drop(images);
        match result {
            Ok((outputs, timings)) => done.extend(
                plain
                    .into_iter()
                    .zip(outputs)
                    .map(|(q, o)| (q, Ok(o), timings)),
            ),
            Err(e) => {
                tracing::warn!(model = model.name(), error = %e, "Inference failed for a batch.");
                done.extend(
                    plain
                        .into_iter()
                        .map(|q| (q, Err(e.to_string()), RunTimings::default())),
                );
            }
        }
    }
    for q in tiled {
        let Some(tiling) = q.request.tiling.clone() else {
            continue;
        };
        match run_frame_tiled(model, &q.request.frame, &tiling) {
            Ok((output, timings)) => done.push((q, Ok(output), timings)),
            Err(e) => {
                tracing::warn!(model = model.name(), error = %e, "Tiled inference failed for a frame.");
                done.push((q, Err(e.to_string()), RunTimings::default()));
            }
        }
    }
    for (q, output, timings) in done {
        let response = Response {
            frame: q.request.frame,
            model: index,
            output,
            timings,
            queued: started.saturating_duration_since(q.submitted),
        };
        if responses.send(response).is_err() {
            return false;
        }
    }
    true
}
