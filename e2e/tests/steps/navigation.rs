//! Opening pages and waiting for them.

use super::{PortalWorld, StepResult, WAIT};
use cucumber::{given, then, when};
use ecpa_e2e::HarnessError;
use fantoccini::Locator;

#[given("瀏覽器停用 JavaScript")]
async fn javascript_off(w: &mut PortalWorld) {
    w.options.javascript_disabled = true;
}

#[given("瀏覽器開啟首頁")]
#[when("瀏覽器開啟首頁")]
async fn open_home(w: &mut PortalWorld) -> StepResult {
    w.open("/").await
}

#[given(expr = "瀏覽器開啟 {string}")]
#[when(expr = "瀏覽器開啟 {string}")]
async fn open_path(w: &mut PortalWorld, path: String) -> StepResult {
    w.open(&path).await
}

#[then("頁面已完成互動載入")]
async fn hydrated(w: &mut PortalWorld) -> StepResult {
    w.find("body[data-hydrated='true']").await.map(|_| ())
}

#[when(expr = "使用者按下「{word}」按鈕")]
async fn press_button(w: &mut PortalWorld, label: String) -> StepResult {
    let xpath =
        format!("//button[normalize-space(.)='{label}'] | //a[normalize-space(.)='{label}']");
    let c = w.client().await?;
    let b = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(&xpath))
        .await?;
    b.click().await?;
    Ok(())
}

#[then(expr = "網址為 {string}")]
async fn at_path(w: &mut PortalWorld, path: String) -> StepResult {
    w.wait_path(&path).await
}

#[then(expr = "頁面標題為 {string}")]
async fn page_heading(w: &mut PortalWorld, text: String) -> StepResult {
    w.wait_text("h1", &text).await
}

#[then(expr = "頁面顯示 {string}")]
async fn page_shows(w: &mut PortalWorld, text: String) -> StepResult {
    w.wait_text("main", &text).await
}

#[then("密碼欄位顯示為明碼")]
async fn password_visible(w: &mut PortalWorld) -> StepResult {
    let input = w.find("#login-password").await?;
    match input.attr("type").await?.as_deref() {
        Some("text") => Ok(()),
        other => Err(HarnessError::Check(format!(
            "password input type is {other:?}, expected text"
        ))),
    }
}
