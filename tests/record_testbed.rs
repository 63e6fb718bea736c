//! Record the live test bed for a few seconds, with markers, then replay the file: the
//! state folded from the recording at each marker equals the live state at that marker.

mod support;

use std::time::Duration;

use meshtop::app::{Keymap, Stamped, State, Update, fold};
use meshtop::record::{Header, Recorder, Recording};
use meshtop::source::kube::KubeTarget;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc;

/// What the user would see: the pods table (and the status line with the world's errors).
fn screen(state: &State) -> String {
    let mut s = state.clone();
    s.stack = vec![meshtop::app::state::ViewEntry::new(meshtop::app::View::Pods)];
    let mut term = Terminal::new(TestBackend::new(160, 20)).unwrap();
    term.draw(|f| meshtop::ui::Ui::builtin().render(&s, f)).unwrap();
    format!("{:?}", term.backend().buffer())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recording_replays_to_the_live_state_at_every_marker() {
    let (client, ns) = support::setup("record").await;
    let (tx, mut rx) = mpsc::channel(1024);
    let target = KubeTarget {
        kubeconfig: Some(support::kubeconfig()),
        namespaces: vec![ns.clone()],
        ..Default::default()
    };
    let source = tokio::spawn(meshtop::source::kube::run(target, tx));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("session.mtrec");
    let header = Header::new(
        "meshtop-testbed",
        "test: the kube source on the test bed",
        meshtop::model::now_millis(),
    );
    let mut rec = Recorder::create(&path, &header).unwrap();
    let mut live = State::new(Keymap::default());
    let mut at_markers: Vec<(String, String, usize)> = Vec::new();

    // Folds and records until `done`, then drops a marker and keeps the live screen.
    async fn until(
        live: &mut State,
        rx: &mut mpsc::Receiver<Stamped>,
        rec: &mut Recorder,
        what: &str,
        done: impl Fn(&State) -> bool,
    ) {
        tokio::time::timeout(Duration::from_secs(30), async {
            while !done(live) {
                let u = rx.recv().await.expect("source alive");
                rec.write(&u).unwrap();
                fold(live, u);
            }
        })
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
    }
    let mut mark = |name: &str, live: &mut State, rec: &mut Recorder| {
        let m = Stamped::now(Update::Marker { name: name.into() });
        rec.write(&m).unwrap();
        fold(live, m);
        at_markers.push((name.to_string(), screen(live), live.pods.len()));
    };

    until(&mut live, &mut rx, &mut rec, "the first lists", |s| {
        s.synced.contains(&meshtop::model::Resource::Pods) && s.cluster.is_some()
    })
    .await;
    mark("listed", &mut live, &mut rec);
    support::create_yaml(
        &client,
        &ns,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: r1}\nspec:\n  containers: [{name: a, image: a}, {name: istio-proxy, image: docker.io/istio/proxyv2:1.24.0}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: r2}\nspec:\n  containers: [{name: a, image: a}]\n",
    )
    .await;
    let key = |n: &str| (ns.clone(), n.to_string());
    until(&mut live, &mut rx, &mut rec, "r1 and r2 running", |s| {
        ["r1", "r2"]
            .iter()
            .all(|n| s.pods.get(&key(n)).is_some_and(|p| p.info.phase == "Running"))
    })
    .await;
    mark("two pods", &mut live, &mut rec);
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(client.clone(), &ns);
    pods.delete("r2", &kube::api::DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    until(&mut live, &mut rx, &mut rec, "r2 gone", |s| {
        !s.pods.contains_key(&key("r2"))
    })
    .await;
    mark("one deleted", &mut live, &mut rec);
    source.abort();
    rec.finish().unwrap();

    let replayed = Recording::open(&path).unwrap();
    assert!(replayed.problems.is_empty(), "{:?}", replayed.problems);
    let markers = replayed.markers();
    assert_eq!(
        markers.iter().map(|m| m.name).collect::<Vec<_>>(),
        ["listed", "two pods", "one deleted"]
    );
    let mut state = State::new(Keymap::default());
    let mut next = 0;
    for (m, (name, live_screen, live_pods)) in markers.iter().zip(&at_markers) {
        while next <= m.index {
            fold(&mut state, replayed.entries[next].clone());
            next += 1;
        }
        assert_eq!(state.pods.len(), *live_pods, "pods at {name}");
        assert_eq!(&screen(&state), live_screen, "screen at {name}");
    }
    assert_eq!(at_markers[1].2, 2);
    assert_eq!(at_markers[2].2, 1);
}
