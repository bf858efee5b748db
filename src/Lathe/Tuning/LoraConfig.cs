using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Lathe.Formats.Peft;

namespace Lathe.Tuning;

/// <summary>A LoRA adapter's settings with the names and defaults of PEFT's <c>LoraConfig</c> (adapter_config.json,
/// peft_type "LORA"). Hu et al. 2021: a frozen W gains ΔW = s·B·A with A (r, in), B (out, r), s = alpha/r
/// (rsLoRA, Kalajdzievski 2023: alpha/√r).</summary>
public sealed record LoraConfig
{
    /// <summary>r: the rank of A and B.</summary>
    public int Rank { get; init; } = 8;
    /// <summary>lora_alpha.</summary>
    public double Alpha { get; init; } = 8;
    /// <summary>lora_dropout: dropout on the LoRA branch's input only (the base path sees x unchanged).</summary>
    public double Dropout { get; init; }
    /// <summary>target_modules as a list: a module matches when its name equals an entry or ends with "." + entry.
    /// Null when <see cref="TargetPattern"/> is used.</summary>
    public IReadOnlyList<string>? TargetModules { get; init; } = ["c_attn"];
    /// <summary>target_modules as one string: "all-linear" (every linear except the output head), or a regular expression
    /// that must match the whole module name (PEFT's re.fullmatch).</summary>
    public string? TargetPattern { get; init; }
    /// <summary>use_rslora: scaling alpha/√r instead of alpha/r.</summary>
    public bool UseRsLora { get; init; }
    /// <summary>fan_in_fan_out: the base weights are stored (in, out) — GPT-2's Conv1D. Written for PEFT's sake; Lathe
    /// knows each layer's layout itself.</summary>
    public bool FanInFanOut { get; init; }
    /// <summary>init_lora_weights: "true" (A Kaiming-uniform with a = √5, as nn.Linear; B zero), "false" (A and B both
    /// Kaiming-uniform: the adapter changes the model from the start — for tests) or "gaussian" (A normal with std 1/r, B zero).</summary>
    public string InitLoraWeights { get; init; } = "true";
    public string TaskType { get; init; } = "CAUSAL_LM";
    public string? BaseModelNameOrPath { get; init; }
    public bool InferenceMode { get; init; }

    public const string AllLinear = "all-linear";

    /// <summary>s: alpha/r, or alpha/√r with rsLoRA.</summary>
    public float Scaling => (float)(UseRsLora ? Alpha / Math.Sqrt(Rank) : Alpha / Rank);

    /// <summary>A command-line target list: "all-linear", or names separated by commas ("q_proj,v_proj").</summary>
    public static (IReadOnlyList<string>? Modules, string? Pattern) ParseTargets(string targets)
    {
        ArgumentNullException.ThrowIfNull(targets);
        if (targets.Trim() == AllLinear) return (null, AllLinear);
        var list = targets.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (list.Length == 0) throw new ArgumentException($"--targets: '{targets}' names no module");
        return (list, null);
    }

    /// <summary>Throws a one-line ArgumentException naming the first invalid setting.</summary>
    public LoraConfig Validate()
    {
        if (Rank < 1) throw new ArgumentException($"lora: r must be at least 1 (got {Rank})");
        if (!(Alpha > 0) || double.IsInfinity(Alpha)) throw new ArgumentException($"lora: lora_alpha must be positive (got {Alpha})");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentException($"lora: lora_dropout must be in [0, 1) (got {Dropout})");
        if ((TargetModules is null) == (TargetPattern is null))
            throw new ArgumentException("lora: give target_modules either as a list of names or as one string (all-linear or a regular expression)");
        if (TargetModules is { Count: 0 }) throw new ArgumentException("lora: target_modules is empty");
        if (TargetPattern is { } p && p != AllLinear)
        {
            try { _ = new Regex(p); }
            catch (ArgumentException e) { throw new ArgumentException($"lora: target_modules: '{p}' is not a regular expression ({e.Message})"); }
        }
        if (InitLoraWeights is not ("true" or "false" or "gaussian"))
            throw new ArgumentException($"lora: init_lora_weights '{InitLoraWeights}' is not supported (true, false or gaussian)");
        return this;
    }

    /// <summary>Whether the module <paramref name="name"/> is a target (PEFT's check_target_module_exists; for
    /// all-linear, <paramref name="isOutputHead"/> excludes the output layer).</summary>
    public bool Matches(string name, bool isOutputHead)
    {
        if (TargetPattern == AllLinear) return !isOutputHead;
        if (TargetPattern is { } p) return Regex.IsMatch(name, $"^(?:{p})\\z");
        foreach (var t in TargetModules!)
            if (name == t || name.EndsWith("." + t, StringComparison.Ordinal)) return true;
        return false;
    }

    /// <summary>The target list in the form people read: "[c_attn]", "all-linear", "/regex/".</summary>
    public string DescribeTargets() => TargetModules is { } list ? "[" + string.Join(", ", list) + "]" : TargetPattern == AllLinear ? AllLinear : $"/{TargetPattern}/";

    /// <summary>adapter_config.json as PEFT writes it for peft_type "LORA" (fields Lathe does not use at their defaults).</summary>
    public JsonObject ToJson()
    {
        JsonNode targets = TargetModules is { } list ? PeftJson.List(list) : JsonValue.Create(TargetPattern)!;
        JsonNode init = InitLoraWeights switch { "true" => JsonValue.Create(true), "false" => JsonValue.Create(false), _ => JsonValue.Create(InitLoraWeights) };
        return new JsonObject
        {
            ["peft_type"] = "LORA",
            ["task_type"] = TaskType,
            ["base_model_name_or_path"] = BaseModelNameOrPath,
            ["r"] = Rank,
            ["lora_alpha"] = Alpha,
            ["lora_dropout"] = Dropout,
            ["target_modules"] = targets,
            ["use_rslora"] = UseRsLora,
            ["fan_in_fan_out"] = FanInFanOut,
            ["bias"] = "none",
            ["init_lora_weights"] = init,
            ["inference_mode"] = InferenceMode,
            ["modules_to_save"] = null,
            ["use_dora"] = false,
            ["layers_to_transform"] = null,
            ["layers_pattern"] = null,
            ["rank_pattern"] = new JsonObject(),
            ["alpha_pattern"] = new JsonObject(),
            ["revision"] = null,
        };
    }

    /// <summary>Reads adapter_config.json's LoRA fields (<paramref name="path"/> names the file in errors). Fields that
    /// would change what the adapter computes and that Lathe does not implement (DoRA, trained biases, per-layer rank
    /// or alpha patterns, modules_to_save, layers_to_transform) are refused with a one-line error naming the field;
    /// other fields (revision, auto_mapping …) are ignored.</summary>
    public static LoraConfig FromJson(JsonObject json, string path)
    {
        PeftJson.ExpectPeftType(json, path, "LORA");
        foreach (var field in new[] { "use_dora", "modules_to_save", "layers_to_transform", "rank_pattern", "alpha_pattern", "lora_bias", "layer_replication", "exclude_modules", "target_parameters", "trainable_token_indices" })
            if (!PeftJson.IsUnset(json, field))
                throw new InvalidDataException($"{path}: {field}: {json[field]!.ToJsonString()} is not supported by Lathe's LoRA");
        string bias = PeftJson.String(json, "bias", path) ?? "none";
        if (bias != "none") throw new InvalidDataException($"{path}: bias: '{bias}' is not supported (only \"none\")");
        var list = PeftJson.StringOrList(json, "target_modules", path, out string? single);
        if (list is null && single is null) throw PeftJson.Missing(path, "target_modules");
        string init = json["init_lora_weights"] switch
        {
            null => "true",
            var n when n.GetValueKind() == System.Text.Json.JsonValueKind.True => "true",
            var n when n.GetValueKind() == System.Text.Json.JsonValueKind.False => "false",
            var n => PeftJson.String(json, "init_lora_weights", path)!,
        };
        var config = new LoraConfig
        {
            Rank = PeftJson.Integer(json, "r", path) ?? 8,
            Alpha = PeftJson.Number(json, "lora_alpha", path) ?? 8,
            Dropout = PeftJson.Number(json, "lora_dropout", path) ?? 0,
            TargetModules = list,
            TargetPattern = single,
            UseRsLora = PeftJson.Bool(json, "use_rslora", path) ?? false,
            FanInFanOut = PeftJson.Bool(json, "fan_in_fan_out", path) ?? false,
            // Weights come from the file: an initialisation PEFT has and Lathe does not (pissa, loftq …) does not matter.
            InitLoraWeights = init is "true" or "false" or "gaussian" ? init : "true",
            TaskType = PeftJson.String(json, "task_type", path) ?? "CAUSAL_LM",
            BaseModelNameOrPath = PeftJson.String(json, "base_model_name_or_path", path),
            InferenceMode = PeftJson.Bool(json, "inference_mode", path) ?? false,
        };
        try { return config.Validate(); }
        catch (ArgumentException e) { throw new InvalidDataException($"{path}: {e.Message}"); }
    }
}
