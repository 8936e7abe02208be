//! An in-process RTSP server on 127.0.0.1 that serves MP4 clips at their own pace, as cameras
//! deliver them. Used by the integration tests (stop it, start it again, watch cameras reconnect)
//! and by `gridsight bench` (many concurrent streams).

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::glib;
use gstreamer_rtsp_server::prelude::*;

use super::{init, IngestError};

/// A running (or stopped) server with its mounts.
#[derive(Debug)]
pub struct RtspServer {
    port: u16,
    mounts: Vec<(String, PathBuf)>,
    /// Basic-auth user and password every client must give, when set.
    credentials: Option<(String, String)>,
    running: Option<Running>,
}

#[derive(Debug)]
struct Running {
    server: rtsp::RTSPServer,
    context: glib::MainContext,
    source: glib::SourceId,
    main_loop: glib::MainLoop,
    thread: JoinHandle<()>,
}

impl RtspServer {
    /// Starts a server on 127.0.0.1 at `port` (0 picks a free one).
    pub fn start(port: u16) -> Result<RtspServer, IngestError> {
        Self::start_with(port, None)
    }

    /// Starts a server that demands basic authentication with `user` and `password`.
    pub fn start_with_credentials(
        port: u16,
        user: &str,
        password: &str,
    ) -> Result<RtspServer, IngestError> {
        Self::start_with(port, Some((user.to_string(), password.to_string())))
    }

    fn start_with(
        port: u16,
        credentials: Option<(String, String)>,
    ) -> Result<RtspServer, IngestError> {
        let mut server = RtspServer {
            port,
            mounts: Vec::new(),
            credentials,
            running: None,
        };
        server.resume()?;
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `rtsp://127.0.0.1:PORT/MOUNT`
    pub fn url(&self, mount: &str) -> String {
        format!(
            "rtsp://127.0.0.1:{}/{}",
            self.port,
            mount.trim_start_matches('/')
        )
    }

    /// Serves `file` (an MP4 with H.264) at `/mount`; each client gets its own stream.
    pub fn add_clip(&mut self, mount: &str, file: &Path) -> Result<String, IngestError> {
        let mount = format!("/{}", mount.trim_start_matches('/'));
        self.mounts.push((mount.clone(), file.to_path_buf()));
        if let Some(running) = &self.running {
            mount_clip(&running.server, &mount, file, self.credentials.is_some())?;
        }
        Ok(self.url(&mount))
    }

    /// Drops every client and stops listening, as a camera that lost power.
    pub fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running
                .server
                .client_filter(Some(&mut |_, _| rtsp::RTSPFilterResult::Remove));
            if let Some(source) = running.context.find_source_by_id(&running.source) {
                source.destroy();
            }
            running.main_loop.quit();
            let _ = running.thread.join();
        }
    }

    /// Listens again on the same port with the same mounts.
    pub fn resume(&mut self) -> Result<(), IngestError> {
        if self.running.is_some() {
            return Ok(());
        }
        init()?;
        let server = rtsp::RTSPServer::new();
        server.set_address("127.0.0.1");
        server.set_service(&self.port.to_string());
        if let Some((user, password)) = &self.credentials {
            let auth = rtsp::RTSPAuth::new();
            let token = rtsp::RTSPToken::builder()
                .field(rtsp::RTSP_TOKEN_MEDIA_FACTORY_ROLE, "camera-user")
                .build();
            auth.add_basic(&rtsp::RTSPAuth::make_basic(user, password), &token);
            server.set_auth(Some(&auth));
        }
        for (mount, file) in &self.mounts {
            mount_clip(&server, mount, file, self.credentials.is_some())?;
        }
        let context = glib::MainContext::new();
        let source = server
            .attach(Some(&context))
            .map_err(|e| IngestError::Pipeline(format!("RTSP server cannot listen: {e}")))?;
        let port = server.bound_port();
        if port <= 0 {
            return Err(IngestError::Pipeline(
                "RTSP server did not bind a port".to_string(),
            ));
        }
        self.port = port as u16;
        let main_loop = glib::MainLoop::new(Some(&context), false);
        let thread = std::thread::Builder::new()
            .name("rtsp-server".to_string())
            .spawn({
                let main_loop = main_loop.clone();
                let context = context.clone();
                move || {
                    let _guard = context.acquire();
                    main_loop.run();
                }
            })
            .map_err(|e| IngestError::Pipeline(e.to_string()))?;
        self.running = Some(Running {
            server,
            context,
            source,
            main_loop,
            thread,
        });
        Ok(())
    }
}

impl Drop for RtspServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn mount_clip(
    server: &rtsp::RTSPServer,
    mount: &str,
    file: &Path,
    authenticated: bool,
) -> Result<(), IngestError> {
    let mounts = server
        .mount_points()
        .ok_or_else(|| IngestError::Pipeline("RTSP server has no mount points".to_string()))?;
    let factory = rtsp::RTSPMediaFactory::new();
    factory.set_launch(&format!(
        "( filesrc location=\"{}\" ! qtdemux ! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 )",
        file.display()
    ));
    factory.set_shared(false);
    if authenticated {
        factory.add_role_from_structure(
            &rtsp::gst::Structure::builder("camera-user")
                .field(rtsp::RTSP_PERM_MEDIA_FACTORY_ACCESS, true)
                .field(rtsp::RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, true)
                .build(),
        );
    }
    factory
        .set_protocols(rtsp::gst_rtsp::RTSPLowerTrans::TCP | rtsp::gst_rtsp::RTSPLowerTrans::UDP);
    mounts.add_factory(mount, factory);
    Ok(())
}
