using System.CommandLine;
using Lathe.Tuning;

namespace Lathe.Cli.Verbs;

/// <summary>The fine-tuning method's command-line options (--method and each method's hyper-parameters), shared by
/// finetune and every align verb, so a LoRA policy or reward model is asked for the same way everywhere.</summary>
internal sealed class TuningOptionSet
{
    public readonly Option<string> Method, Quant, Activation;
    public readonly Option<int> Rank, VirtualTokens, PrefixProjection, Bottleneck;
    public readonly Option<float> Alpha, Dropout;
    public readonly Option<string?> Targets, InitText, Layers;
    public readonly Option<bool> RsLora;

    /// <param name="methods">The methods this verb accepts, for the help text.</param>
    public TuningOptionSet(string defaultMethod = TuningOptions.Lora, string methods = "full, lora, qlora, prefix, prompt or adapter")
    {
        Method = new Option<string>("--method") { Description = methods + ".", DefaultValueFactory = _ => defaultMethod };
        Rank = new Option<int>("--rank") { Description = "LoRA/QLoRA: rank r.", DefaultValueFactory = _ => 8 };
        Alpha = new Option<float>("--alpha") { Description = "LoRA/QLoRA: lora_alpha (scale alpha/r).", DefaultValueFactory = _ => 16 };
        Dropout = new Option<float>("--dropout") { Description = "LoRA/QLoRA: dropout on the LoRA branch's input.", DefaultValueFactory = _ => 0 };
        Targets = new Option<string?>("--targets") { Description = "LoRA/QLoRA: module names (\"c_attn\", \"q_proj,v_proj\") or all-linear (default: PEFT's per architecture)." };
        RsLora = new Option<bool>("--rslora") { Description = "LoRA/QLoRA: scale alpha/√r (rsLoRA)." };
        Quant = new Option<string>("--quant") { Description = "QLoRA: the frozen base's type, q4_0 or q8_0 (a quantized GGUF base stays as it is).", DefaultValueFactory = _ => "q4_0" };
        VirtualTokens = new Option<int>("--virtual-tokens") { Description = "Prefix/prompt tuning: virtual tokens P.", DefaultValueFactory = _ => 16 };
        PrefixProjection = new Option<int>("--prefix-projection") { Description = "Prefix tuning: width of the reparameterisation MLP (0: a plain table).", DefaultValueFactory = _ => 256 };
        InitText = new Option<string?>("--init-text") { Description = "Prompt tuning: initialise the rows from this text's token embeddings (default: random)." };
        Bottleneck = new Option<int>("--bottleneck") { Description = "Adapter: bottleneck width.", DefaultValueFactory = _ => 64 };
        Activation = new Option<string>("--activation") { Description = "Adapter: gelu or relu.", DefaultValueFactory = _ => "gelu" };
        Layers = new Option<string?>("--layers") { Description = "Full: train only these blocks, e.g. \"4,5\" (default: every parameter)." };
    }

    public IEnumerable<Option> All => [Method, Rank, Alpha, Dropout, Targets, RsLora, Quant, VirtualTokens, PrefixProjection, InitText, Bottleneck, Activation, Layers];

    public void AddTo(Command c) { foreach (var o in All) c.Options.Add(o); }

    /// <summary>The options as given (validated by the caller through <see cref="TuningOptions.Validate"/>).</summary>
    public TuningOptions Read(ParseResult r) => new()
    {
        Method = r.GetValue(Method)!, Rank = r.GetValue(Rank), Alpha = r.GetValue(Alpha), Dropout = r.GetValue(Dropout),
        Targets = r.GetValue(Targets), RsLora = r.GetValue(RsLora), Quant = FinetuneVerb.ParseQuant(r.GetValue(Quant)!),
        VirtualTokens = r.GetValue(VirtualTokens), PrefixProjection = r.GetValue(PrefixProjection), InitText = r.GetValue(InitText),
        Bottleneck = r.GetValue(Bottleneck), Activation = r.GetValue(Activation)!, Layers = FinetuneVerb.ParseLayers(r.GetValue(Layers)),
    };
}
