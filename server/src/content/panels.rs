//! The home page's panels that change only with the content (the latest announcements,
//! the links, which poll is current), kept per instance for every visitor, signed in or
//! not. They follow the content versions ([`super::versions`]) as the stored public pages
//! do: an administrator's change or a vote here drops them at once, one at another
//! instance within about a second, and none is older than [`TTL`].

use super::versions::Versions;
use ecpa_app::api::content::{AnnouncementItem, LinkItem};
use std::{
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

/// The longest a kept panel is shown (announcements published for a later day appear on
/// that day within this).
pub const TTL: Duration = Duration::from_secs(5);

/// The panels as the home page shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct HomePanels {
    pub latest: Vec<AnnouncementItem>,
    pub links: Vec<LinkItem>,
    pub poll_id: Option<String>,
}

#[derive(Default)]
pub struct Panels {
    kept: RwLock<Option<(Versions, Instant, Arc<HomePanels>)>>,
}

impl Panels {
    /// The kept panels, if made at `versions` less than [`TTL`] ago.
    pub fn fresh(&self, versions: Versions) -> Option<Arc<HomePanels>> {
        let kept = self.kept.read().ok()?;
        let (v, at, p) = kept.as_ref()?;
        (*v == versions && at.elapsed() < TTL).then(|| p.clone())
    }

    /// Keeps panels read at `versions` (read before the queries ran).
    pub fn keep(&self, versions: Versions, panels: HomePanels) -> Arc<HomePanels> {
        let panels = Arc::new(panels);
        if let Ok(mut kept) = self.kept.write() {
            *kept = Some((versions, Instant::now(), panels.clone()));
        }
        panels
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::versions::ContentVersions;

    #[test]
    fn panels_follow_the_content_versions() {
        let v = ContentVersions::default();
        let panels = Panels::default();
        let p = HomePanels {
            latest: vec![],
            links: vec![],
            poll_id: Some("p1".into()),
        };
        assert!(panels.fresh(v.current()).is_none());
        panels.keep(v.current(), p.clone());
        assert_eq!(panels.fresh(v.current()).as_deref(), Some(&p));
        v.bump_local();
        assert!(panels.fresh(v.current()).is_none());
        panels.keep(v.current(), p.clone());
        v.set_shared(3);
        assert!(panels.fresh(v.current()).is_none());
    }
}
