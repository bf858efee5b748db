using Lathe.Models;

namespace Lathe.Tuning;

/// <summary>Which projections of a model a LoRA config selects.</summary>
internal static class LoraTargets
{
    /// <summary>The model's dense projections with their Hugging Face names (<see cref="LanguageModel.Linears"/>: decoders,
    /// BERT and its classifier).</summary>
    public static IReadOnlyList<LinearLayer> LinearsOf(LanguageModel model)
    {
        var all = model.Linears.ToList();
        if (all.Count == 0) throw new ArgumentException($"lora: a {model.Config.ModelType} model lists no linear layers");
        return all;
    }

    /// <summary>The projections <paramref name="config"/> targets, in the model's order; a one-line error naming the
    /// targets and a few module names that exist when nothing matches.</summary>
    public static IReadOnlyList<LinearLayer> Select(LanguageModel model, LoraConfig config)
    {
        var all = LinearsOf(model);
        var chosen = all.Where(l => config.Matches(l.Name, IsOutputHead(l))).ToList();
        if (chosen.Count == 0)
        {
            var examples = all.Select(l => l.Name.Split('.')[^1]).Distinct().Take(8);
            throw new ArgumentException($"lora: target_modules {config.DescribeTargets()} match no linear layer of this {model.Config.ModelType} model (its modules end in: {string.Join(", ", examples)}; e.g. {all[0].Name})");
        }
        return chosen;
    }

    /// <summary>The output heads all-linear leaves out (PEFT excludes the model's output layer): a decoder's lm_head, BERT's
    /// classifier and pre-training heads (a classifier head is trained whole instead, as PEFT's modules_to_save).</summary>
    public static bool IsOutputHead(LinearLayer layer) =>
        layer.Name is "lm_head" or "classifier" || layer.Name.StartsWith("cls.", StringComparison.Ordinal);

    /// <summary>The saved key of a LoRA matrix: PEFT's <c>base_model.model.&lt;module&gt;.lora_A.weight</c>.</summary>
    public static string Key(string module, char which) => $"base_model.model.{module}.lora_{which}.weight";
}
