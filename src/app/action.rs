//! What a key press means, independent of which key it was.

use serde::{Deserialize, Serialize};

/// A user intent. Remappable actions carry a stable kebab-case name used in the config file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Quit,
    ToggleHelp,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Back,
    StartFilter,
    StartCommand,
    NextTheme,
    Select,
    ShowOverview,
    ShowControlPlanes,
    ShowNamespaces,
    ShowPods,
    ShowWorkloads,
    ShowEdges,
    NextWindow,
    /// Opens the benchmark form on the selected pod, workload or service (or empty).
    NewBench,
    ShowBench,
    /// The Compare view (8): the runs marked with `c`.
    ShowCompare,
    /// Marks or unmarks the selected run for the Compare view.
    ToggleCompareMark,
    StopBench,
    ToggleRecording,
    AddMarker,
    ReplayPause,
    ReplaySlower,
    ReplayFaster,
    ReplayBack,
    ReplayForward,
    ReplayPreviousMarker,
    ReplayNextMarker,
    ReplayLoop,
    /// The tap stream (9) and its summary (0).
    ShowTap,
    ShowTapSummary,
    /// Taps the selected pod, workload or namespace.
    TapSelected,
    /// Holds the tap stream still (new requests are still kept), or lets it run again.
    TapPause,
    /// Stops every live tap.
    StopTap,
    // Form navigation; not remappable.
    #[serde(skip)]
    FormNext,
    #[serde(skip)]
    FormPrev,
    SortNext,
    SortReverse,
    // Text entry in filter and command mode; not remappable.
    #[serde(skip)]
    InputChar(char),
    #[serde(skip)]
    InputBackspace,
    #[serde(skip)]
    InputComplete,
    #[serde(skip)]
    InputSubmit,
    #[serde(skip)]
    InputCancel,
}

/// Work the fold asks the main loop to do, because it involves I/O or ends the program.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Quit,
    /// Reconnect to another kubeconfig context; the world state is reset.
    SwitchContext(String),
    /// The rate window changed; sources that compute windows themselves (Prometheus) follow.
    SetWindow(u32),
    /// Start a benchmark run with this id.
    StartBench {
        id: u32,
        config: Box<crate::bench::BenchConfig>,
        target: crate::app::bench::BenchTarget,
    },
    /// Start a benchmark from agent pods in the cluster (confirmed by the user: it creates
    /// a Secret and a Job).
    StartInClusterBench {
        id: u32,
        config: Box<crate::bench::BenchConfig>,
        target: crate::app::bench::BenchTarget,
        agents: crate::agents::plan::InCluster,
    },
    /// Stop a run, keeping its partial result.
    StopBench(u32),
    /// Start a sweep (checked); its runs show in the bench view, its table in the Compare view.
    StartSweep(Box<crate::sweep::SweepPlan>),
    /// Stop a sweep: its running run ends with its partial result, and no other starts.
    StopSweep(u32),
    /// Start or stop teeing the session's updates into a recording file.
    ToggleRecording,
    /// Add a named marker to the session (and the recording).
    Mark(String),
    /// Move the replay (no effect in a live session).
    Replay(ReplayCommand),
    /// Start tapping (Linkerd's tap API or access logs, chosen by the spec).
    StartTap(Box<crate::model::tap::TapSpec>),
    /// Stop every live tap.
    StopTap,
}

/// What the replay controls ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayCommand {
    TogglePause,
    Slower,
    Faster,
    /// Seconds of recording time, backwards when negative.
    Skip(i64),
    /// To this many milliseconds from the start of the recording.
    SeekTo(u64),
    PreviousMarker,
    NextMarker,
    ToggleLoop,
}
