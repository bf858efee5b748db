using System.CommandLine;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe align …`: alignment of a fine-tuned policy — reward models, DPO, PPO (RLHF), Llama 2's rejection
/// sampling, and AI feedback (RLAIF).</summary>
internal static class AlignVerb
{
    public static Command Create()
    {
        var align = new Command("align", "Align a policy with preferences: reward models, DPO/IPO, PPO (RLHF), rejection sampling, AI feedback.");
        align.Subcommands.Add(AlignRewardVerb.Create());
        align.Subcommands.Add(AlignDpoVerb.Create());
        align.Subcommands.Add(AlignPpoVerb.Create());
        align.Subcommands.Add(AlignRejectionVerb.Create());
        align.Subcommands.Add(AlignRlaifVerb.Create());
        align.Subcommands.Add(AlignJudgeDataVerb.Create());
        align.Subcommands.Add(AlignEvalVerb.Create());
        return align;
    }
}
