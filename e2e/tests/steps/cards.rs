//! Cards in readers, the certificate sign-in page, the upload steps and the PIN dialog.

use super::{PortalWorld, StepResult, WAIT};
use cucumber::{given, then, when};
use ecpa_cardproto::challenge::{Challenge, Purpose};
use ecpa_e2e::{ForeignSite, HarnessError};
use fantoccini::Locator;

/// National IDs of the demo personas (the registry the demo data loads).
fn national_id(name: &str) -> Option<&'static str> {
    Some(match name {
        "王小明" => "A123456789",
        "陳志偉" => "B120240011",
        "李志明" => "N126550061",
        "張雅婷" => "D223450040",
        "吳宗翰" => "S127770052",
        "林美華" => "F228000104",
        _ => return None,
    })
}

/// Agency OIDs of the demo agencies.
fn agency_oid(name: &str) -> Option<&'static str> {
    Some(match name {
        "行政院人事行政總處" => "2.16.886.101.20003.20006",
        "交通部" => "2.16.886.101.20003.20065",
        "交通部公路局" => "2.16.886.101.20003.20065.20021",
        _ => return None,
    })
}

#[given(expr = "{word} 的自然人憑證已插入讀卡機 {int}，PIN 為 {string}")]
async fn natural_card_in(w: &mut PortalWorld, name: String, reader: u8, pin: String) -> StepResult {
    let id = national_id(&name)
        .ok_or_else(|| HarnessError::Setup(format!("no demo persona named {name}")))?;
    let n = w
        .cards
        .new_card(&[
            "--kind",
            "natural",
            "--name",
            &name,
            "--national-id",
            id,
            "--pin",
            &pin,
        ])
        .await?;
    w.cards.insert(&n, reader).await?;
    w.card_numbers.insert(name, n);
    Ok(())
}

#[given(expr = "{word} 的自然人憑證已插入讀卡機 {int}")]
async fn natural_card(w: &mut PortalWorld, name: String, reader: u8) -> StepResult {
    natural_card_in(w, name, reader, "123456".into()).await
}

#[given(expr = "{word} 的機關憑證已插入讀卡機 {int}")]
async fn org_card(w: &mut PortalWorld, agency: String, reader: u8) -> StepResult {
    let oid = agency_oid(&agency)
        .ok_or_else(|| HarnessError::Setup(format!("no demo agency named {agency}")))?;
    let n = w
        .cards
        .new_card(&[
            "--kind",
            "org",
            "--agency-name",
            &agency,
            "--agency-oid",
            oid,
            "--pin",
            "12345678",
        ])
        .await?;
    w.cards.insert(&n, reader).await?;
    w.card_numbers.insert(agency, n);
    Ok(())
}

#[when(expr = "卡片從讀卡機 {int} 取出")]
async fn card_out(w: &mut PortalWorld, reader: u8) -> StepResult {
    w.cards.eject(reader).await
}

#[when("使用者開始憑證登入")]
async fn start_cert_login(w: &mut PortalWorld) -> StepResult {
    w.open("/login/certificate").await?;
    w.find("body[data-hydrated='true']").await?;
    w.find("#cert-login-start").await?.click().await?;
    Ok(())
}

#[when(expr = "他在 PIN 對話框輸入 {string}")]
async fn enter_pin(w: &mut PortalWorld, pin: String) -> StepResult {
    let input = w.find("#pin-input").await?;
    // Wait until the dialog is usable again (after a previous attempt).
    let deadline = std::time::Instant::now() + WAIT;
    while input.attr("disabled").await?.is_some() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    input.clear().await?;
    input.send_keys(&pin).await?;
    w.find("#pin-ok").await?.click().await?;
    Ok(())
}

/// A Chrome DevTools command through ChromeDriver (`goog/cdp/execute`).
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: serde_json::Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = serde_json::json!({ "cmd": self.cmd, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}

#[when("瀏覽器停用 JavaScript")]
async fn disable_javascript(w: &mut PortalWorld) -> StepResult {
    w.client()
        .await?
        .issue_cmd(Cdp {
            cmd: "Emulation.setScriptExecutionDisabled",
            params: serde_json::json!({ "value": true }),
        })
        .await?;
    Ok(())
}

#[when(expr = "他在 PIN 對話框輸入 {string} 後按 Enter")]
async fn enter_pin_and_return(w: &mut PortalWorld, pin: String) -> StepResult {
    let input = w.find("#pin-input").await?;
    input.send_keys(&format!("{pin}\u{E007}")).await?;
    // Give a default submission, if any, the time to navigate.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    Ok(())
}

#[then(expr = "網址不含 {string}")]
async fn url_lacks(w: &mut PortalWorld, text: String) -> StepResult {
    let u = w.client().await?.current_url().await?;
    if u.as_str().contains(&text) {
        return Err(HarnessError::Check(format!(
            "the address holds {text}: {u}"
        )));
    }
    Ok(())
}

#[then(expr = "畫面顯示 PIN 對話框 {string}")]
async fn pin_dialog(w: &mut PortalWorld, title: String) -> StepResult {
    w.wait_text("#pin-title", &title).await
}

#[then("PIN 對話框說明使用者正在哪個網站輸入")]
async fn pin_dialog_names_the_site(w: &mut PortalWorld) -> StepResult {
    let base = w.server.url("");
    let host = base
        .split_once("://")
        .map(|(_, h)| h.trim_end_matches('/').to_string())
        .unwrap_or_default();
    w.wait_text("#pin-site", &format!("您正在 {host} 輸入 PIN Code"))
        .await
}

#[then(expr = "PIN 對話框顯示 {string}")]
async fn pin_message(w: &mut PortalWorld, text: String) -> StepResult {
    w.wait_text("#pin-error", &text).await
}

#[then(expr = "讀卡訊息顯示 {string}")]
async fn agent_message(w: &mut PortalWorld, text: String) -> StepResult {
    w.wait_text("#agent-message", &text).await
}

#[when(expr = "使用者在上傳步驟一以帳號 {string} 與密碼 {string} 登入")]
async fn upload_login(w: &mut PortalWorld, account: String, password: String) -> StepResult {
    w.find("body[data-hydrated='true']").await?;
    let a = w.find("#upload-account").await?;
    a.clear().await?;
    a.send_keys(&account).await?;
    let p = w.find("#upload-password").await?;
    p.clear().await?;
    p.send_keys(&password).await?;
    w.find("#upload-login").await?.click().await?;
    Ok(())
}

#[then(expr = "上傳步驟顯示第 {int} 步 {string}")]
async fn upload_step(w: &mut PortalWorld, n: u8, label: String) -> StepResult {
    w.wait_text(".steps__item--current", &format!("{n} {label}"))
        .await
}

#[then(expr = "確認畫面的 {string} 為 {string}")]
async fn preview_field(w: &mut PortalWorld, field: String, value: String) -> StepResult {
    let css = match field.as_str() {
        "ECPA 帳號" => "#preview-account",
        "姓名" | "機關名稱" => "#preview-holder",
        "身分證末四碼" | "機關 OID" => "#preview-identifier",
        "卡號" => "#preview-card",
        other => return Err(HarnessError::Setup(format!("no preview field {other}"))),
    };
    let want = match value.strip_prefix("卡片 ") {
        Some(name) => w.card_numbers.get(name).cloned().unwrap_or(value),
        None => value,
    };
    w.wait_text(css, &want).await
}

#[when(expr = "使用者填寫聯絡電子郵件 {string} 與備註 {string}")]
async fn org_fields(w: &mut PortalWorld, email: String, note: String) -> StepResult {
    let e = w.find("#bind-email").await?;
    e.clear().await?;
    e.send_keys(&email).await?;
    let n = w.find("#bind-note").await?;
    n.clear().await?;
    n.send_keys(&note).await?;
    Ok(())
}

#[when("使用者確定上傳")]
async fn confirm_upload(w: &mut PortalWorld) -> StepResult {
    w.find("#bind-confirm").await?.click().await?;
    Ok(())
}

#[then(expr = "畫面顯示上傳完成 {string}")]
async fn upload_done(w: &mut PortalWorld, text: String) -> StepResult {
    w.wait_text("#upload-done", &text).await
}

#[then(expr = "我的憑證清單包含 {word} 的卡片")]
async fn my_certs(w: &mut PortalWorld, name: String) -> StepResult {
    let n = w
        .card_numbers
        .get(&name)
        .cloned()
        .ok_or_else(|| HarnessError::Setup(format!("no card of {name} in this scenario")))?;
    w.wait_text("#cert-table", &n).await
}

#[then(expr = "卡片 {word} 的 PIN 剩餘次數為 {int}")]
async fn tries_left(w: &mut PortalWorld, name: String, want: u64) -> StepResult {
    let n = w
        .card_numbers
        .get(&name)
        .cloned()
        .ok_or_else(|| HarnessError::Setup(format!("no card of {name} in this scenario")))?;
    let out = w.cards.sim(&["card", "show", &n]).await?;
    let v: serde_json::Value = serde_json::from_str(&out)
        .map_err(|e| HarnessError::Setup(format!("hsm-sim card show: {e}")))?;
    match v.get("tries_left").and_then(|t| t.as_u64()) {
        Some(t) if t == want => Ok(()),
        other => Err(HarnessError::Check(format!(
            "tries left {other:?}, expected {want}"
        ))),
    }
}

#[given("讀卡元件未啟動")]
#[when("讀卡元件在作業中被關閉")]
async fn agent_down(w: &mut PortalWorld) -> StepResult {
    w.cards.stop_agent().await;
    Ok(())
}

#[given("讀卡元件尚未信任本網站")]
async fn agent_untrusting(w: &mut PortalWorld) -> StepResult {
    w.cards.restart_agent(&[]).await
}

#[when("使用者在讀卡元件視窗按下「信任此網站」")]
async fn trust_in_agent_window(w: &mut PortalWorld) -> StepResult {
    let c = w.client().await?.clone();
    let main = c.window().await?;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        for h in c.windows().await? {
            if h == main {
                continue;
            }
            c.switch_to_window(h).await?;
            if c.current_url().await?.path() == "/addDomain" {
                let b = c
                    .wait()
                    .at_most(WAIT)
                    .for_element(Locator::Css("#trust"))
                    .await?;
                // The agent keeps its buttons inactive for a second after the window is
                // shown (a double-click on the site must not land on 「信任此網站」).
                let armed = std::time::Instant::now() + WAIT;
                while !b.is_enabled().await? {
                    if std::time::Instant::now() > armed {
                        return Err(HarnessError::Check(
                            "the agent's 「信任此網站」 never became active".into(),
                        ));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                b.click().await?;
                c.switch_to_window(main).await?;
                return Ok(());
            }
        }
        c.switch_to_window(main.clone()).await?;
        if std::time::Instant::now() > deadline {
            return Err(HarnessError::Check(
                "the agent's /addDomain window did not open".into(),
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Another person in the registry (交通部公路局) whose national ID ends with the same four
/// characters as 王小明's (A123456789), with an account. With another name the name check
/// refuses 王小明's card; a namesake passes both checks, and only the binding's uniqueness
/// stops a second upload of the same card.
#[given(expr = "人事資料另有一位同名同姓、身分證末四碼也相同的 {word}，帳號 {string}")]
async fn namesake_same_last4(w: &mut PortalWorld, name: String, account: String) -> StepResult {
    same_last4_person(w, name, account).await
}

#[given(expr = "人事資料另有身分證末四碼與王小明相同的 {word}，帳號 {string}")]
async fn same_last4_person(w: &mut PortalWorld, name: String, account: String) -> StepResult {
    let id = "K100146789";
    let csv = format!(
        "身分證統一編號,姓名,電子郵件,機關代碼,服務單位,職稱,人員區分,兼職性質,在職狀態,卸職日期,入檔日期\n\
         {id},{name},,315200000H,工務組,技士,01,,現職,,115/01/15\n"
    );
    let file = w.cards.pki_dir().join("same-last4.csv");
    std::fs::write(&file, csv)?;
    let path = file.display().to_string();
    w.server.cli(&["personnel", "import", &path], "").await?;
    w.server
        .cli(
            &[
                "account",
                "create",
                "--name",
                &account,
                "--display-name",
                &name,
            ],
            "Ecpa-Demo-2026\n",
        )
        .await?;
    w.server
        .cli(
            &["account", "link", "--name", &account, "--national-id", id],
            "",
        )
        .await?;
    Ok(())
}

#[given(expr = "另一個網站的網頁要求讀卡元件為本網站的登入請求簽章，PIN 為 {string}")]
async fn foreign_page(w: &mut PortalWorld, pin: String) -> StepResult {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    // A portal challenge as the portal would issue it (the agent cannot tell it from one).
    let tbs = Challenge {
        purpose: Purpose::Login,
        origin: w.server.base_url.clone(),
        nonce: ecpa_cardproto::challenge::nonce_text(&[0xAB; 32]),
        issued_at: now,
    }
    .to_tbs();
    let req = serde_json::json!({
        "func": "MakeSignature", "signatureType": "PKCS1", "tbs": tbs, "tbsEncoding": "NONE",
        "hashAlgorithm": "SHA256", "withCardSN": "true", "pin": pin, "nonce": "",
    });
    let site = ForeignSite::start(&w.cards.agent_origin(), &req).await?;
    let url = format!("{}/", site.origin);
    w.foreign = Some(site);
    w.client().await?.goto(&url).await?;
    Ok(())
}

#[given("讀卡元件也信任該網站")]
async fn agent_trusts_foreign(w: &mut PortalWorld) -> StepResult {
    let foreign = w
        .foreign
        .as_ref()
        .map(|f| f.origin.clone())
        .ok_or_else(|| HarnessError::Setup("no foreign site in this scenario".into()))?;
    let portal = w.server.base_url.clone();
    w.cards.restart_agent(&[&portal, &foreign]).await
}

#[then(expr = "該網頁收到讀卡元件代碼 {string}")]
async fn foreign_got_code(w: &mut PortalWorld, code: String) -> StepResult {
    let want = u64::from_str_radix(code.trim_start_matches("0x"), 16)
        .map_err(|e| HarnessError::Setup(format!("{code}: {e}")))?;
    w.wait_text("#relay-result", "ret_code").await?;
    let text = w.find("#relay-result").await?.text().await?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| HarnessError::Check(format!("agent answer {text}: {e}")))?;
    let got = v.get("ret_code").and_then(|c| c.as_u64());
    let signature = v
        .get("signature")
        .and_then(|s| s.as_str())
        .unwrap_or_default();
    if got != Some(want) || !signature.is_empty() {
        return Err(HarnessError::Check(format!(
            "expected ret_code {code} and no signature, got {text}"
        )));
    }
    Ok(())
}

#[then("該網頁直接呼叫讀卡元件也取不到簽章")]
async fn foreign_direct_refused(w: &mut PortalWorld) -> StepResult {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let text = w.find("#direct-result").await?.text().await?;
        if !text.is_empty() {
            let signed = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| {
                    v.get("signature")
                        .and_then(|s| s.as_str())
                        .map(|s| !s.is_empty())
                })
                .unwrap_or(false);
            return if signed {
                Err(HarnessError::Check(format!(
                    "the agent signed for another site: {text}"
                )))
            } else {
                Ok(())
            };
        }
        if std::time::Instant::now() > deadline {
            return Err(HarnessError::Check("no answer to the direct call".into()));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[then("我的憑證清單是空的")]
async fn no_certificates(w: &mut PortalWorld) -> StepResult {
    w.wait_text("#no-certificates", "尚未上傳任何憑證").await
}

#[given("一個使用讀卡元件的其他機關網站")]
async fn third_party_site(w: &mut PortalWorld) -> StepResult {
    let site = ForeignSite::third_party(&w.cards.agent_origin()).await?;
    let url = format!("{}/", site.origin);
    w.foreign = Some(site);
    w.client().await?.goto(&url).await?;
    Ok(())
}

#[when(expr = "使用者在其他機關網站按下「{word}」")]
async fn third_party_click(w: &mut PortalWorld, label: String) -> StepResult {
    let id = match label.as_str() {
        "偵測讀卡元件" => "#detect",
        "加入信任網站" => "#add-domain",
        "讀取憑證" => "#read",
        "簽章登入" => "#sign",
        other => return Err(HarnessError::Setup(format!("no button {other}"))),
    };
    w.find(id).await?.click().await?;
    Ok(())
}

#[when(expr = "使用者在其他機關網站輸入 PIN {string}")]
async fn third_party_pin(w: &mut PortalWorld, pin: String) -> StepResult {
    w.find("#pin").await?.send_keys(&pin).await?;
    Ok(())
}

/// The JSON a `<pre>` of the third-party page shows, once it shows one.
async fn shown_json(w: &mut PortalWorld, css: &str) -> Result<serde_json::Value, HarnessError> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let text = w.find(css).await?.text().await?;
        if !text.is_empty() {
            return serde_json::from_str(&text)
                .map_err(|e| HarnessError::Check(format!("{css}: {text}: {e}")));
        }
        if std::time::Instant::now() > deadline {
            return Err(HarnessError::Check(format!("{css}: nothing shown")));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[then(expr = "其他機關網站從圖片讀到讀卡元件代碼 {string}")]
async fn third_party_detect_code(w: &mut PortalWorld, code: String) -> StepResult {
    let want = i64::from_str_radix(code.trim_start_matches("0x"), 16)
        .map_err(|e| HarnessError::Setup(format!("{code}: {e}")))?;
    let v = shown_json(w, "#detect-result").await?;
    if v.get("ret_code").and_then(|c| c.as_i64()) != Some(want) {
        return Err(HarnessError::Check(format!("expected {code}, got {v}")));
    }
    Ok(())
}

#[then(expr = "其他機關網站從圖片讀到讀卡機中 {word} 的卡號")]
async fn third_party_detect_card(w: &mut PortalWorld, name: String) -> StepResult {
    let number = w
        .card_numbers
        .get(&name)
        .cloned()
        .ok_or_else(|| HarnessError::Setup(format!("no card of {name}")))?;
    let v = shown_json(w, "#detect-result").await?;
    let found = v["slots"].as_array().is_some_and(|s| {
        s.iter()
            .any(|s| s["token"]["serialNumber"] == number.as_str())
    });
    if v["ret_code"] != 0 || !found {
        return Err(HarnessError::Check(format!("card {number} not in {v}")));
    }
    Ok(())
}

#[then("其他機關網站收到信任結果 0")]
async fn third_party_trusted(w: &mut PortalWorld) -> StepResult {
    let v = shown_json(w, "#trust-result").await?;
    if v["ret_code"] != 0 {
        return Err(HarnessError::Check(format!("addDomain answered {v}")));
    }
    Ok(())
}

#[then(expr = "其他機關網站讀到 {word} 的簽章憑證 cert1")]
async fn third_party_cert1(w: &mut PortalWorld, name: String) -> StepResult {
    let v = shown_json(w, "#read-result").await?;
    let ok = v["slots"].as_array().is_some_and(|s| {
        s.iter().any(|s| {
            s["token"]["certs"].as_array().is_some_and(|c| {
                c.iter().any(|c| {
                    c["label"] == "cert1"
                        && c["subjectDN"]
                            .as_str()
                            .is_some_and(|d| d.contains(&format!("CN={name}")))
                })
            })
        })
    });
    if !ok {
        return Err(HarnessError::Check(format!("no cert1 of {name} in {v}")));
    }
    Ok(())
}

/// The PKCS7 answer verified by OpenSSL (`openssl cms -verify`) against the scenario's test
/// PKI, its content equal to the bytes the page asked to sign.
#[then("其他機關網站取得可由 OpenSSL 驗證的 PKCS7 簽章")]
async fn third_party_pkcs7(w: &mut PortalWorld) -> StepResult {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let v = shown_json(w, "#sign-result").await?;
    if v["ret_code"] != 0 {
        return Err(HarnessError::Check(format!("sign answered {v}")));
    }
    let tbs = w.find("#tbs").await?.text().await?;
    let content = b64
        .decode(tbs.trim())
        .map_err(|e| HarnessError::Check(format!("tbs {tbs}: {e}")))?;
    let der = b64
        .decode(v["signature"].as_str().unwrap_or_default())
        .map_err(|e| HarnessError::Check(format!("signature: {e}")))?;
    let dir = tempfile::tempdir()?;
    let (sig, out) = (dir.path().join("sig.p7s"), dir.path().join("content"));
    std::fs::write(&sig, der)?;
    let pki = w.cards.pki_dir();
    // The root and the issuing CA (OpenSSL 3.0's `cms` has no `-untrusted`; the chain is
    // still checked up to the self-signed root).
    let bundle = dir.path().join("chain.pem");
    let chain = [
        std::fs::read(pki.join("test-grca-root.pem"))?,
        std::fs::read(pki.join("test-moica.pem"))?,
    ]
    .concat();
    std::fs::write(&bundle, chain)?;
    let o = tokio::process::Command::new("openssl")
        .args([
            "cms", "-verify", "-binary", "-inform", "DER", "-purpose", "any", "-in",
        ])
        .arg(&sig)
        .arg("-CAfile")
        .arg(&bundle)
        .arg("-out")
        .arg(&out)
        .output()
        .await?;
    if !o.status.success() {
        return Err(HarnessError::Check(format!(
            "openssl cms -verify: {}",
            String::from_utf8_lossy(&o.stderr)
        )));
    }
    if std::fs::read(&out)? != content {
        return Err(HarnessError::Check(
            "the signed content differs from the page's tbs".into(),
        ));
    }
    Ok(())
}

/// The portal's pages talk to [`ecpa_e2e::HipkiDouble`] instead of our agent: the server is
/// restarted on the same address with the double as its card component.
#[given("本網站使用的讀卡元件是依中華電信跨平台網頁元件行為運作的替身")]
async fn real_component_double(w: &mut PortalWorld) -> StepResult {
    let portal = w.server.base_url.clone();
    let port = portal
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .ok_or_else(|| HarnessError::Setup(format!("port of {portal}")))?;
    let double =
        ecpa_e2e::HipkiDouble::start(&w.cards.agent_origin(), &portal, &w.cards.pki_dir()).await?;
    w.server.stop().await;
    w.server = ecpa_e2e::Server::start_with(ecpa_e2e::ServerOptions {
        port: Some(port),
        card_pki_dir: Some(w.cards.pki_dir()),
        agent_origin: Some(double.origin.clone()),
    })
    .await?;
    w.double = Some(double);
    Ok(())
}
