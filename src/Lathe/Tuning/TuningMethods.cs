using Lathe.Models;
using Lathe.Tokenizers;

namespace Lathe.Tuning;

/// <summary>Creates the fine-tuning method a run asks for, attached to a loaded model with fresh weights.</summary>
public static class TuningMethods
{
    /// <summary>PEFT's default LoRA targets per architecture (its TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING).</summary>
    public static string DefaultTargets(LanguageModel model) => model.Config.ModelType switch
    {
        "gpt2" => "c_attn",
        "llama" => "q_proj,v_proj",
        "bert" => "query,value",
        var t => throw new ArgumentException($"--targets: no default LoRA targets for model_type '{t}'; name them"),
    };

    /// <param name="tokenizer">For prompt tuning's text init.</param>
    /// <param name="tokenizerJson">Copied into full fine-tuning's checkpoints.</param>
    public static ITuningMethod Create(LanguageModel model, TuningOptions options, ulong seed, ITokenizer? tokenizer = null, string? tokenizerJson = null)
    {
        options.Validate();
        switch (options.Method)
        {
            case TuningOptions.Full:
                return FullFineTuning.Attach(model, options.Layers, tokenizerJson);
            case TuningOptions.Lora:
            case TuningOptions.Qlora:
            {
                var (modules, pattern) = LoraConfig.ParseTargets(options.Targets ?? DefaultTargets(model));
                var config = new LoraConfig
                {
                    Rank = options.Rank, Alpha = options.Alpha, Dropout = options.Dropout, TargetModules = modules, TargetPattern = pattern,
                    UseRsLora = options.RsLora, FanInFanOut = model.Config.ModelType == "gpt2",
                };
                if (options.Method == TuningOptions.Lora) return LoraMethod.Attach(model, config, seed);
                return QloraMethod.Attach(Decoder(model, "qlora"), config, options.Quant, seed);
            }
            case TuningOptions.Prefix:
                return PrefixTuning.Attach(Decoder(model, "prefix"), new PrefixTuningConfig
                {
                    VirtualTokens = options.VirtualTokens, PrefixProjection = options.PrefixProjection > 0,
                    EncoderHiddenSize = options.PrefixProjection > 0 ? options.PrefixProjection : null,
                }, seed);
            case TuningOptions.Prompt:
                return PromptTuning.Attach(Decoder(model, "prompt"), new PromptTuningConfig
                {
                    VirtualTokens = options.VirtualTokens, Init = options.InitText is null ? PromptTuningInit.Random : PromptTuningInit.Text,
                    InitText = options.InitText,
                }, seed, tokenizer);
            case TuningOptions.Adapter:
                return BottleneckAdapters.Attach(model, new BottleneckConfig
                {
                    BottleneckSize = options.Bottleneck,
                    Activation = options.Activation switch
                    {
                        "gelu" => BottleneckActivation.Gelu,
                        "relu" => BottleneckActivation.Relu,
                        var a => throw new ArgumentException($"--activation: '{a}' is not gelu or relu"),
                    },
                }, seed);
            default:
                throw new ArgumentException($"--method: '{options.Method}' is not one of {string.Join(", ", TuningOptions.Methods)}");
        }
    }

    /// <summary>Readies an attached method for cached decoding and returns the rows the generator must put before every
    /// prompt (prompt tuning's), or null. Prefix tuning computes its key/value rows from its MLP here (a forward without
    /// gradients), so decoding right after training sees the trained prefix.</summary>
    public static Lathe.Tensors.Tensor? ForDecoding(ITuningMethod? method)
    {
        switch (method)
        {
            case PromptTuning prompt: return prompt.Rows;
            case PrefixTuning prefix: prefix.Materialize(); return null;
            default: return null;
        }
    }

    static CausalLM Decoder(LanguageModel model, string method) => model as CausalLM
        ?? throw new ArgumentException($"--method {method}: needs a decoder (gpt2, llama); {model.Config.ModelType} takes full, lora or adapter");
}
