//! 我的專區: the e-page card, rights and the application list.

use super::{PortalWorld, StepResult};
use cucumber::{then, when};
use ecpa_e2e::HarnessError;

#[then(expr = "應用系統清單包含 {string}")]
async fn apps_contain(w: &mut PortalWorld, text: String) -> StepResult {
    w.wait_text("#apps", &text).await
}

#[then(expr = "應用系統清單不包含 {string}")]
async fn apps_lack(w: &mut PortalWorld, text: String) -> StepResult {
    // The list is rendered with the page; wait for it, then check.
    w.wait_text("#apps", "應用系統").await?;
    let body = w.find("#apps").await?.text().await?;
    if body.contains(&text) {
        return Err(HarnessError::Check(format!(
            "the application list shows 「{text}」 but must not"
        )));
    }
    Ok(())
}

#[then(expr = "電子頁卡顯示 {string}")]
async fn ecard_shows(w: &mut PortalWorld, text: String) -> StepResult {
    w.wait_text("#ecard", &text).await
}

#[when(expr = "使用者開啟應用系統 {string}")]
async fn open_app(w: &mut PortalWorld, code: String) -> StepResult {
    w.open(&format!("/apps/{code}")).await
}
