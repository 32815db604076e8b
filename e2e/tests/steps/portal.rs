//! The portal around the login: home page panels, announcements and search, the poll,
//! agencies, FAQ, password reset through the outbox, and the administrator's pages.

use super::{PortalWorld, StepResult, WAIT};
use cucumber::{then, when};
use ecpa_e2e::HarnessError;
use fantoccini::Locator;

/// The CSS of a home page panel, by the name the portal shows.
fn panel(name: &str) -> Result<&'static str, HarnessError> {
    Ok(match name {
        "網站統計" => "#counters",
        "最新公告" => "#latest-announcements",
        "主題投票" => "#home-poll",
        "人事業務連結" => "#hr-links",
        "使用說明" => ".help-links",
        other => return Err(HarnessError::Check(format!("no home panel named {other}"))),
    })
}

#[then(expr = "首頁區塊「{word}」顯示 {string}")]
async fn panel_shows(w: &mut PortalWorld, name: String, text: String) -> StepResult {
    let css = panel(&name)?;
    w.wait_text(css, &text).await
}

#[then("首頁顯示今天的民國日期")]
async fn roc_today(w: &mut PortalWorld) -> StepResult {
    let now = time::OffsetDateTime::now_utc();
    let today = ecpa_domain::tz::taipei_date(now);
    let want =
        ecpa_domain::roc::format_long(today).map_err(|e| HarnessError::Check(e.to_string()))?;
    w.wait_text("#today-roc", &want).await
}

#[then("首頁的三個人數都是數字")]
async fn counters_numeric(w: &mut PortalWorld) -> StepResult {
    for id in ["#count-online", "#count-today", "#count-total"] {
        let t = w.find(id).await?.text().await?;
        if t.trim().parse::<u64>().is_err() {
            return Err(HarnessError::Check(format!("{id} shows 「{t}」")));
        }
    }
    Ok(())
}

#[then(expr = "累積上線人數至少為 {int}")]
async fn total_at_least(w: &mut PortalWorld, n: u64) -> StepResult {
    let t = w.find("#count-total").await?.text().await?;
    match t.trim().parse::<u64>() {
        Ok(v) if v >= n => Ok(()),
        _ => Err(HarnessError::Check(format!(
            "累積上線人數 is 「{t}」, expected at least {n}"
        ))),
    }
}

#[when(expr = "使用者點選連結 {string}")]
async fn click_link(w: &mut PortalWorld, text: String) -> StepResult {
    let xpath = format!("//main//a[normalize-space(.)='{text}']");
    let c = w.client().await?;
    let a = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(&xpath))
        .await?;
    a.click().await?;
    Ok(())
}

#[when(expr = "使用者搜尋公告 {string}")]
async fn search(w: &mut PortalWorld, q: String) -> StepResult {
    let input = w.find("#search-q").await?;
    input.clear().await?;
    input.send_keys(&q).await?;
    w.find("#search-submit").await?.click().await?;
    Ok(())
}

#[then(expr = "搜尋結果標示 {string}")]
async fn marked(w: &mut PortalWorld, text: String) -> StepResult {
    w.wait_text("#search-hits mark", &text).await
}

#[then(expr = "搜尋結果的第一則是 {string}")]
async fn first_hit(w: &mut PortalWorld, text: String) -> StepResult {
    w.wait_text("#search-hits li:first-child .hit__title", &text)
        .await
}

#[when(expr = "使用者投票給 {string}")]
async fn vote(w: &mut PortalWorld, option: String) -> StepResult {
    let xpath =
        format!("//form[contains(@class,'poll__form')]//label[normalize-space(.)='{option}']");
    let c = w.client().await?;
    let label = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(&xpath))
        .await?;
    label.click().await?;
    w.find("#vote-submit").await?.click().await?;
    Ok(())
}

#[then(expr = "投票結果顯示 {string}")]
async fn poll_result(w: &mut PortalWorld, text: String) -> StepResult {
    w.wait_text(".poll-results", &text).await
}

#[then("頁面不再顯示投票按鈕")]
async fn no_vote_button(w: &mut PortalWorld) -> StepResult {
    let c = w.client().await?;
    match c.find(Locator::Css("#vote-submit")).await {
        Ok(_) => Err(HarnessError::Check("the vote button is still there".into())),
        Err(_) => Ok(()),
    }
}

#[when(expr = "使用者申請重設密碼：帳號 {string}、信箱 {string}")]
async fn request_reset(w: &mut PortalWorld, account: String, email: String) -> StepResult {
    w.open("/password/forgot").await?;
    w.find("body[data-hydrated='true']").await?;
    w.find("#forgot-account").await?.send_keys(&account).await?;
    w.find("#forgot-email").await?.send_keys(&email).await?;
    w.find("#forgot-submit").await?.click().await?;
    Ok(())
}

#[when(expr = "使用者開啟寄給 {string} 的重設密碼連結")]
async fn open_reset_link(w: &mut PortalWorld, to: String) -> StepResult {
    let deadline = std::time::Instant::now() + WAIT;
    let link = loop {
        let found = w.server.mails_to(&to).last().and_then(|m| {
            m.split_whitespace()
                .find(|t| t.contains("/password/reset?token="))
                .map(str::to_string)
        });
        if let Some(l) = found {
            break l;
        }
        if std::time::Instant::now() > deadline {
            return Err(HarnessError::Check(format!(
                "no reset mail to {to} in the outbox"
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    w.reset_link = Some(link.clone());
    w.client().await?.goto(&link).await?;
    Ok(())
}

#[then(expr = "信箱 {string} 沒有收到任何信件")]
async fn no_mail(w: &mut PortalWorld, to: String) -> StepResult {
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    match w.server.mails_to(&to).len() {
        0 => Ok(()),
        n => Err(HarnessError::Check(format!("{n} mail(s) to {to}"))),
    }
}

#[when("使用者再次開啟同一個重設密碼連結")]
async fn reopen_reset_link(w: &mut PortalWorld) -> StepResult {
    let link = w
        .reset_link
        .clone()
        .ok_or_else(|| HarnessError::Check("no reset link opened yet".into()))?;
    w.client().await?.goto(&link).await?;
    Ok(())
}

#[when(expr = "使用者設定新密碼 {string}")]
async fn set_new_password(w: &mut PortalWorld, pw: String) -> StepResult {
    w.find("body[data-hydrated='true']").await?;
    w.find("#reset-password").await?.send_keys(&pw).await?;
    w.find("#reset-confirm").await?.send_keys(&pw).await?;
    w.find("#reset-submit").await?.click().await?;
    Ok(())
}

#[when(expr = "管理者新增置頂公告：類別 {string}、標題 {string}、內容 {string}")]
async fn admin_new_announcement(
    w: &mut PortalWorld,
    category: String,
    title: String,
    body: String,
) -> StepResult {
    w.open("/admin/announcements/new").await?;
    w.find("body[data-hydrated='true']").await?;
    let xpath = format!("//select[@id='ann-category']/option[normalize-space(.)='{category}']");
    let c = w.client().await?;
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(&xpath))
        .await?
        .click()
        .await?;
    w.find("#ann-title").await?.send_keys(&title).await?;
    w.find("#ann-body").await?.send_keys(&body).await?;
    w.find("#ann-hot").await?.click().await?;
    w.find("#announcement-save").await?.click().await?;
    w.wait_path("/admin/announcements").await
}
