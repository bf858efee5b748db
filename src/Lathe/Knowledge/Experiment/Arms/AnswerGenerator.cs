using Lathe.Formats;
using Lathe.Inference;

namespace Lathe.Knowledge.Experiment.Arms;

/// <summary>One greedy answer to ask a model for: a prompt in <see cref="GroundedPrompt"/>'s format and, optionally, a
/// constraint on the answer's tokens.</summary>
public sealed record AnswerRequest(string Prompt, Func<ILogitsProcessor>? Constraint = null);

/// <summary>A model's answer (one line, trimmed) and its confidence: exp of the mean log-probability, under the model's
/// own distribution, of the tokens it generated for the answer (the token that ends the line included: ending there is
/// part of the claim).</summary>
public readonly record struct GeneratedAnswer(string Text, double Confidence);

/// <summary>Answers prompts in a batch; the arms ask through this, tests through a fake.</summary>
public interface IAnswerGenerator
{
    IReadOnlyList<GeneratedAnswer> Generate(IReadOnlyList<AnswerRequest> requests);
}

/// <summary>Greedy answers from a loaded decoder through the inference engine (continuous batching, as <c>eval tasks</c>
/// generates). The prompt is rendered as a user turn with the model's chat template — the way <c>lathe finetune</c>
/// rendered the QA tuning data — and the answer ends at a newline (<see cref="GroundedPrompt.AnswerEnd"/>), the
/// template's end of turn, or after <paramref name="maxTokens"/> tokens.</summary>
public sealed class EngineAnswerGenerator(LoadedModel model, ChatTemplate template, int maxTokens = 24, int parallel = 16) : IAnswerGenerator
{
    public IReadOnlyList<GeneratedAnswer> Generate(IReadOnlyList<AnswerRequest> requests)
    {
        if (requests.Count == 0) return [];
        int window = model.Model.Config.MaxPositions;
        int answerTokens = Math.Min(maxTokens, window - 1);
        using var engine = new InferenceEngine(model, new EngineOptions
        {
            Parallel = parallel, QueueCapacity = requests.Count + 1, ContextLength = window,
        });
        string[] stops = [GroundedPrompt.AnswerEnd, .. template.EndOfTurn];
        var runs = new List<Task<GenerationResult[]>>(requests.Count);
        foreach (var r in requests)
        {
            int[] prompt = model.Encode(template.Render([new ChatMessage("user", r.Prompt)]));
            // A prompt longer than the context loses its oldest tokens (the facts' first lines), as eval tasks does.
            if (prompt.Length + answerTokens > window) prompt = prompt[^(window - answerTokens)..];
            runs.Add(engine.Submit(new GenerationRequest
            {
                Prompt = prompt, MaxTokens = answerTokens, StopStrings = stops, TopLogprobs = 0,
                Sampling = new SamplingOptions { Temperature = 0 }, Constraint = r.Constraint,
            }).CollectAsync());
        }
        var results = Task.WhenAll(runs).GetAwaiter().GetResult();
        return results.Select(r => new GeneratedAnswer(r[0].Text.ToString().Trim(), Confidence(r[0]))).ToArray();
    }

    static double Confidence(GenerationResult r)
    {
        double sum = 0;
        int n = 0;
        foreach (var e in r.Events)
            if (e.Logprob is float lp) { sum += lp; n++; }
        return n == 0 ? 0 : Math.Exp(sum / n);
    }
}
