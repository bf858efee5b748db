using Lathe.Formats;
using Lathe.Formats.Peft;
using Lathe.Models;

namespace Lathe.Tuning;

/// <summary>Makes a parameter-efficient method's adapter folder a sequence-classification one, as PEFT's
/// PeftModelForSequenceClassification saves it: the classifier head is trained whole beside the method (PEFT's
/// modules_to_save), so the folder carries it. adapter_config.json gets <c>task_type</c> "SEQ_CLS" and
/// <c>modules_to_save</c> ["classifier", "score"] (the names PEFT adds for that task when none are given);
/// adapter_model.safetensors gets the head as <c>base_model.model.classifier.weight</c> (num_labels, C) and
/// <c>.bias</c> — PEFT's saved key for <c>classifier.modules_to_save.default.weight</c>, which it writes with
/// "modules_to_save." and the adapter name taken out.</summary>
public static class ClassifierHeadFiles
{
    /// <summary>PEFT's classifier module names for SEQ_CLS (BERT's is "classifier"; "score" is other architectures').</summary>
    public static readonly string[] ModulesToSave = [BertClassifier.HeadName, "score"];

    /// <summary>Adds the head tensors read from <paramref name="modelFile"/> (a classifier checkpoint's
    /// model.safetensors, whose classifier.weight / classifier.bias the fine-tune trained) to the adapter folder
    /// <paramref name="adapterDir"/> a method's Save wrote, and marks its config SEQ_CLS. Both files are rewritten
    /// atomically (weights first); a missing head tensor is a one-line error naming the file.</summary>
    public static void AddHead(string adapterDir, string modelFile)
    {
        var folder = PeftAdapterFolder.Read(adapterDir);
        var tensors = folder.Tensors.Values.ToList();
        using (var model = SafetensorsFile.Open(modelFile))
            foreach (var suffix in new[] { ".weight", ".bias" })
            {
                string name = BertClassifier.HeadName + suffix;
                if (!model.Entries.TryGetValue(name, out var entry))
                    throw new InvalidDataException($"{modelFile}: no tensor '{name}' (not a sequence-classification checkpoint)");
                tensors.Add(new PeftTensor("base_model.model." + name, Array.ConvertAll(entry.Shape, d => checked((int)d)), model.ReadFloats(name)));
            }
        var config = folder.Config.DeepClone().AsObject();
        config["task_type"] = "SEQ_CLS";
        config["modules_to_save"] = PeftJson.List(ModulesToSave);
        PeftAdapterFolder.Write(adapterDir, config, tensors);
    }
}
