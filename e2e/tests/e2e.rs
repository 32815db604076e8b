//! The end-to-end suite: Gherkin features in Traditional Chinese (`features/*.feature`),
//! run by cucumber against the real server in a real headless Chromium.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod steps;

use cucumber::{event::ScenarioFinished, writer::Stats as _, World as _};
use ecpa_e2e::{report_dir, Driver, PcscdGuard};
use futures_util::FutureExt;
use steps::PortalWorld;

#[tokio::main]
async fn main() {
    let mut driver = match Driver::start().await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("e2e: {e}");
            std::process::exit(2);
        }
    };
    let mut pcscd = match PcscdGuard::start().await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("e2e: {e}");
            driver.stop().await;
            std::process::exit(2);
        }
    };
    // Interrupted (Ctrl-C, SIGTERM): stop the pcscd this run started; the server, agent,
    // ChromeDriver and the cards' processes end with the harness by themselves.
    let started_pcscd = pcscd.started_pid();
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
        if let Some(pid) = started_pcscd {
            // SAFETY: kill(2) on the pcscd this run started.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        eprintln!("e2e: interrupted");
        std::process::exit(130);
    });
    steps::set_driver_url(driver.url.clone());
    let features = concat!(env!("CARGO_MANIFEST_DIR"), "/features");

    let writer = PortalWorld::cucumber()
        .max_concurrent_scenarios(1)
        .fail_on_skipped()
        .after(|feature, _rule, scenario, ev, world| {
            async move {
                let Some(world) = world else { return };
                let failed = matches!(
                    ev,
                    ScenarioFinished::StepFailed(..) | ScenarioFinished::BeforeHookFailed(..)
                );
                if failed {
                    let dir = report_dir()
                        .join(steps::slug(&format!("{}-{}", feature.name, scenario.name)));
                    match world.save_report(&dir).await {
                        Ok(files) => {
                            eprintln!("\ne2e: scenario 「{}」 failed; evidence:", scenario.name);
                            for f in files {
                                eprintln!("  {}", f.display());
                            }
                        }
                        Err(e) => eprintln!("e2e: could not save the failure report: {e}"),
                    }
                }
                world.shutdown().await;
            }
            .boxed_local()
        })
        .run(features)
        .await;

    driver.stop().await;
    pcscd.stop();
    let failed = writer.execution_has_failed();
    let summary = writer.scenarios_stats();
    println!("e2e: {} passed, {} failed", summary.passed, summary.failed);
    if failed {
        std::process::exit(1);
    }
}
