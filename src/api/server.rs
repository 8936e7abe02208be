//! Running the console server next to (or without) a pipeline, from synchronous code: its own
//! small async runtime, the store opened on it, the listener bound, and a clean stop.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::oneshot;

use super::{ApiOptions, AppState, CameraRegistry, Pipeline};
use crate::config::{CameraConfig, Config};
use crate::geo::GridLayer;

/// A running console server.
#[derive(Debug)]
pub struct ConsoleServer {
    runtime: Option<tokio::runtime::Runtime>,
    shutdown: Option<oneshot::Sender<()>>,
    /// Where it listens.
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
}

fn async_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("api")
        .enable_all()
        .build()
        .context("starting the API's async runtime")
}

/// The cameras to run: the pipeline file's, with the console's saved changes over them.
pub fn effective_cameras(config: &Config) -> anyhow::Result<Vec<CameraConfig>> {
    let rt = async_runtime()?;
    rt.block_on(async {
        let store = crate::cases::open(&config.store).await?;
        let registry = CameraRegistry::load(config, &*store).await?;
        store.close().await?;
        Ok(registry.configs())
    })
}

impl ConsoleServer {
    /// Opens the store, loads the console's state and serves on `bind` (port 0: any free
    /// port; see [`ConsoleServer::addr`]). With a pipeline, the console's grid layer and category
    /// table are handed to it.
    pub fn start(
        config: Arc<Config>,
        pipeline: Option<Arc<dyn Pipeline>>,
        bind: SocketAddr,
        mut options: ApiOptions,
    ) -> anyhow::Result<ConsoleServer> {
        if options.tile_url.is_none() {
            options.tile_url.clone_from(&config.tile_url);
        }
        let rt = async_runtime()?;
        let (state, listener) = rt.block_on(async {
            let store = crate::cases::open(&config.store).await.with_context(|| {
                format!(
                    "opening the case store {}",
                    crate::cases::redact_url(&config.store)
                )
            })?;
            let state = AppState::load(Arc::clone(&config), store, pipeline, options).await?;
            let listener = tokio::net::TcpListener::bind(bind)
                .await
                .with_context(|| format!("cannot listen on {bind} (http_bind)"))?;
            anyhow::Ok((state, listener))
        })?;
        if let Some(pipeline) = &state.pipeline {
            let grid = state
                .grid
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .map(|(layer, _)| GridLayer::clone(layer));
            pipeline.set_grid(grid);
            pipeline.set_categories(
                state
                    .categories
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone(),
            );
        }
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let served = Arc::clone(&state);
        rt.spawn(async move {
            let shutdown = async {
                let _ = rx.await;
            };
            if let Err(e) = super::serve(served, listener, shutdown).await {
                tracing::error!(error = %e, "The console server stopped.");
            }
        });
        tracing::info!(%addr, "Console listening.");
        Ok(ConsoleServer {
            runtime: Some(rt),
            shutdown: Some(tx),
            addr,
            state,
        })
    }

    /// Runs `future` on the server's async runtime (CLI helpers, tests).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime
            .as_ref()
            .expect("the runtime lives until stop")
            .block_on(future)
    }

    /// Stops accepting, lets requests finish (at most 5 s), closes the store.
    pub fn stop(mut self) {
        self.shutdown_now();
    }

    fn shutdown_now(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(rt) = self.runtime.take() {
            let store = Arc::clone(&self.state.store);
            let _ = rt.block_on(async {
                tokio::time::timeout(std::time::Duration::from_secs(5), store.close()).await
            });
            rt.shutdown_timeout(std::time::Duration::from_secs(5));
        }
    }
}

impl Drop for ConsoleServer {
    fn drop(&mut self) {
        self.shutdown_now();
    }
}
