//! Password sign-in and sign-out.

use super::{PortalWorld, StepResult};
use cucumber::{then, when};

#[when(expr = "使用者以帳號 {string} 與密碼 {string} 登入")]
async fn sign_in(w: &mut PortalWorld, account: String, password: String) -> StepResult {
    let a = w.find("#login-account").await?;
    a.clear().await?;
    a.send_keys(&account).await?;
    let p = w.find("#login-password").await?;
    p.clear().await?;
    p.send_keys(&password).await?;
    w.find("#login-submit").await?.click().await?;
    Ok(())
}

#[then(expr = "畫面進入我的專區並顯示 {string}")]
async fn in_my_area(w: &mut PortalWorld, name: String) -> StepResult {
    w.wait_path("/my").await?;
    w.wait_text("#signed-in-name", &name).await
}

#[when("使用者登出")]
async fn sign_out(w: &mut PortalWorld) -> StepResult {
    w.find("#logout").await?.click().await?;
    Ok(())
}

#[then("畫面回到首頁並顯示登入表單")]
async fn back_home(w: &mut PortalWorld) -> StepResult {
    w.wait_path("/").await?;
    w.find("#login-account").await.map(|_| ())
}

#[then(expr = "登入表單顯示錯誤訊息 {string}")]
async fn login_error(w: &mut PortalWorld, text: String) -> StepResult {
    w.wait_text("#login-error", &text).await
}
