using Lathe.Distributed;
using Lathe.Formats;
using Lathe.Training;

namespace Lathe.Cli.Verbs;

/// <summary>The options a resumed run continues with, for every training verb: those its trainer_state.json saved,
/// with --steps (the schedule stretches to them) and --batch-size when given. A run checkpointed on K ranks and resumed
/// on K′ (mpirun's count; 1 without it) keeps its global batch — batch × K rows per micro-batch — so it continues the
/// same optimisation.</summary>
internal static class ResumedOptions
{
    public static TrainingOptions Read(string verb, string checkpoint, TrainingOptions requested, bool stepsGiven, bool batchGiven = false)
    {
        var state = TrainerState.Load(Path.Combine(checkpoint, Checkpoint.StateFile));
        var options = stepsGiven ? state.Options with { Steps = requested.Steps } : state.Options;
        if (batchGiven) return options with { BatchSize = requested.BatchSize };
        int ranks = Job.LauncherSize;
        if (state.Ranks == ranks) return options;
        long global = (long)options.BatchSize * state.Ranks;
        if (global % ranks != 0)
            throw new UserInputException($"{verb}: --resume: the checkpoint's batch of {global} rows ({options.BatchSize} × {state.Ranks} ranks) does not split over {ranks} ranks; pass --batch-size");
        return options with { BatchSize = (int)(global / ranks) };
    }
}
