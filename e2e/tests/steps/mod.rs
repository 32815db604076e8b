//! The world of one scenario (a fresh server and browser) and the reusable steps.
//! QA writes new scenarios in `features/*.feature` from these steps.

mod auth;
mod cards;
mod my_area;
mod navigation;
mod portal;

use cucumber::World;
use ecpa_e2e::{
    browser, free_port, BrowserOptions, CardLab, Driver, HarnessError, Server, ServerOptions,
};
use fantoccini::{Client, Locator};
use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
    time::Duration,
};

pub type StepResult = Result<(), HarnessError>;

static DRIVER_URL: OnceLock<String> = OnceLock::new();

pub fn set_driver_url(url: String) {
    let _ = DRIVER_URL.set(url);
}

/// A file-name-safe form of a scenario name (Chinese characters kept).
pub fn slug(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .to_string()
}

pub const WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, World)]
#[world(init = Self::new)]
pub struct PortalWorld {
    pub server: Server,
    /// hsm-sim cards, pcscd's virtual readers and the card agent of this scenario.
    pub cards: CardLab,
    /// Card numbers by the name the scenario gave them (holder or agency).
    pub card_numbers: std::collections::HashMap<String, String>,
    /// Another site's page trying to use the agent (scenario 7).
    pub foreign: Option<ecpa_e2e::ForeignSite>,
    /// A second implementation of the HiPKI protocol the portal's pages use instead of our
    /// agent (behaving like Chunghwa's component).
    pub double: Option<ecpa_e2e::HipkiDouble>,
    /// The last password reset link opened from the outbox.
    pub reset_link: Option<String>,
    client: Option<Client>,
    pub options: BrowserOptions,
    profile: tempfile::TempDir,
}

impl PortalWorld {
    async fn new() -> Result<Self, HarnessError> {
        let mut cards = CardLab::new().await?;
        let port = free_port()?;
        cards
            .start_agent(Some(&format!("http://127.0.0.1:{port}")))
            .await?;
        let server = Server::start_with(ServerOptions {
            port: Some(port),
            card_pki_dir: Some(cards.pki_dir()),
            agent_origin: Some(cards.agent_origin()),
        })
        .await?;
        Ok(Self {
            server,
            cards,
            card_numbers: Default::default(),
            foreign: None,
            double: None,
            reset_link: None,
            client: None,
            options: BrowserOptions::default(),
            profile: tempfile::tempdir()?,
        })
    }

    /// The browser, started at first use with the options the scenario chose.
    pub async fn client(&mut self) -> Result<&Client, HarnessError> {
        if self.client.is_none() {
            let url = DRIVER_URL
                .get()
                .ok_or_else(|| HarnessError::Setup("ChromeDriver not started".into()))?;
            let driver = Driver::attach(url);
            self.client = Some(browser(&driver, self.profile.path(), self.options).await?);
        }
        self.client
            .as_ref()
            .ok_or_else(|| HarnessError::Setup("no browser".into()))
    }

    pub async fn open(&mut self, path: &str) -> StepResult {
        let url = self.server.url(path);
        self.client().await?.goto(&url).await?;
        Ok(())
    }

    pub async fn find(&mut self, css: &str) -> Result<fantoccini::elements::Element, HarnessError> {
        let c = self.client().await?;
        Ok(c.wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await?)
    }

    pub async fn path(&mut self) -> Result<String, HarnessError> {
        let u = self.client().await?.current_url().await?;
        Ok(u.path().to_string())
    }

    /// Waits until the browser's path is `want`.
    pub async fn wait_path(&mut self, want: &str) -> StepResult {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let p = self.path().await?;
            if p == want {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err(HarnessError::Check(format!(
                    "expected to be at {want}, still at {p}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the element's text contains `want`.
    pub async fn wait_text(&mut self, css: &str, want: &str) -> StepResult {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let text = match self.client().await?.find(Locator::Css(css)).await {
                Ok(e) => e.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if text.contains(want) {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err(HarnessError::Check(format!(
                    "{css}: expected text containing 「{want}」, found 「{text}」"
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Screenshot, page HTML and server log of a failed scenario.
    pub async fn save_report(&mut self, dir: &Path) -> Result<Vec<PathBuf>, HarnessError> {
        std::fs::create_dir_all(dir)?;
        let mut files = vec![];
        if let Some(c) = &self.client {
            if let Ok(png) = c.screenshot().await {
                let p = dir.join("screenshot.png");
                std::fs::write(&p, png)?;
                files.push(p);
            }
            if let Ok(html) = c.source().await {
                let p = dir.join("page.html");
                std::fs::write(&p, html)?;
                files.push(p);
            }
        }
        let p = dir.join("server.log");
        std::fs::copy(&self.server.log, &p)?;
        files.push(p);
        let p = dir.join("agent.log");
        if std::fs::copy(&self.cards.agent_log, &p).is_ok() {
            files.push(p);
        }
        let p = dir.join("pcscd.log");
        if std::fs::copy(ecpa_e2e::pcscd_log(), &p).is_ok() {
            files.push(p);
        }
        if let Ok(status) = self.cards.sim(&["status"]).await {
            let p = dir.join("readers.json");
            std::fs::write(&p, status)?;
            files.push(p);
        }
        Ok(files)
    }

    pub async fn shutdown(&mut self) {
        if let Some(c) = self.client.take() {
            let _ = c.close().await;
        }
        self.server.stop().await;
        self.cards.stop().await;
    }
}
