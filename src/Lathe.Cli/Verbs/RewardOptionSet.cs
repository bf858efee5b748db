using System.CommandLine;
using Lathe.Alignment;
using Lathe.Inference;

namespace Lathe.Cli.Verbs;

/// <summary>How an align verb is told what judges a response: --reward RUN (one reward model), or --helpfulness RUN
/// and --safety RUN (Llama 2's two, combined by its rule). Shared by ppo, rejection and eval.</summary>
internal sealed class RewardOptionSet
{
    public readonly Option<string?> Reward = new("--reward") { Description = "A reward model (a run of `align reward`)." };
    public readonly Option<string?> Helpfulness = new("--helpfulness") { Description = "Llama 2's helpfulness reward model (with --safety, instead of --reward)." };
    public readonly Option<string?> Safety = new("--safety") { Description = "Llama 2's safety reward model (with --helpfulness)." };

    public void AddTo(Command c) { c.Options.Add(Reward); c.Options.Add(Helpfulness); c.Options.Add(Safety); }

    /// <summary>The paths given, checked: exactly one of --reward or the pair (or none when <paramref name="optional"/>).</summary>
    public Choice Read(ParseResult r, string verb, bool optional = false)
    {
        var c = new Choice(r.GetValue(Reward), r.GetValue(Helpfulness), r.GetValue(Safety));
        bool pair = c.Helpfulness is not null || c.Safety is not null;
        if (c.Reward is not null && pair) throw new UserInputException($"{verb}: give --reward RUN, or --helpfulness RUN and --safety RUN (not both)");
        if (pair && (c.Helpfulness is null || c.Safety is null)) throw new UserInputException($"{verb}: --helpfulness and --safety go together");
        if (!optional && c.Reward is null && !pair) throw new UserInputException($"{verb}: give --reward RUN, or --helpfulness RUN and --safety RUN");
        return c;
    }

    /// <summary>The reward paths of a run.</summary>
    internal sealed record Choice(string? Reward, string? Helpfulness, string? Safety)
    {
        public bool Given => Reward is not null || Helpfulness is not null;

        /// <summary>Opens the reward model(s) for <paramref name="policy"/> (its tokenizer must be theirs); the returned
        /// scorers are the caller's to dispose.</summary>
        public (IRewardFunction? Function, List<IDisposable> Owned) Open(LoadedModel policy)
        {
            var owned = new List<IDisposable>();
            try
            {
                if (Reward is not null)
                {
                    var one = RewardModelScorer.Open(Reward, policy);
                    owned.Add(one);
                    return (one, owned);
                }
                if (Helpfulness is null) return (null, owned);
                var h = RewardModelScorer.Open(Helpfulness, policy);
                owned.Add(h);
                var s = RewardModelScorer.Open(Safety!, policy);
                owned.Add(s);
                return (new Llama2Reward(h, h.Info, s, s.Info), owned);
            }
            catch { foreach (var d in owned) d.Dispose(); throw; }
        }
    }
}
