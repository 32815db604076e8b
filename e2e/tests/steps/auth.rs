//! Password sign-in and sign-out.

use super::{PortalWorld, StepResult};
use cucumber::{then, when};
use ecpa_e2e::HarnessError;

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

#[when(expr = "使用者以帳號 {string} 與錯誤密碼連續登入 {int} 次")]
async fn wrong_password_times(w: &mut PortalWorld, account: String, times: u32) -> StepResult {
    // Each wrong password must be a counted failure: when the account's rising delay
    // answers "try later" instead, wait and submit the same attempt again.
    let mut done = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while done < times {
        w.open("/").await?;
        w.find("body[data-hydrated='true']").await?;
        sign_in(w, account.clone(), format!("Wrong-Pass-20{done:02}")).await?;
        let text = loop {
            let t = w.find("#login-error").await?.text().await?;
            if !t.is_empty() {
                break t;
            }
            if std::time::Instant::now() > deadline {
                return Err(HarnessError::Check("no answer to a sign-in attempt".into()));
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        if text.contains("帳號或密碼錯誤") {
            done += 1;
        } else if text.contains("登入嘗試次數過多") {
            tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        } else {
            return Err(HarnessError::Check(format!(
                "unexpected sign-in answer 「{text}」"
            )));
        }
        if std::time::Instant::now() > deadline {
            return Err(HarnessError::Check(format!(
                "only {done} of {times} failures counted in 60 s"
            )));
        }
    }
    Ok(())
}
