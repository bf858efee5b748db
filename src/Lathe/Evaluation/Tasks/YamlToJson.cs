using System.Globalization;
using System.Text.Json;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Lathe.Evaluation.Tasks;

/// <summary>A YAML task file as the JSON it stands for, so one reader checks both. Plain (unquoted) scalars that read as
/// integers, numbers, true/false or null become those; quoted and block scalars stay strings — as YAML 1.2's core
/// schema resolves them. Anchors and aliases are expanded by the parser; a file holds one document.</summary>
public static class YamlToJson
{
    /// <exception cref="InvalidDataException">Not valid YAML (the line is named), or not one document.</exception>
    public static JsonElement Parse(string text, string path)
    {
        var stream = new YamlStream();
        try { stream.Load(new StringReader(text)); }
        catch (YamlException e) { throw new InvalidDataException($"{path}: not valid YAML (line {e.Start.Line}): {e.Message.Split('\n')[0]}"); }
        // YamlDotNet reports some malformed streams not as a YamlException but as an ArgumentException about its parser
        // (a stray document marker inside a mapping) or an InvalidOperationException from its scanner (binary junk).
        catch (Exception e) when (e is ArgumentException or InvalidOperationException) { throw new InvalidDataException($"{path}: not valid YAML ({e.Message.Split('\n')[0]})"); }
        if (stream.Documents.Count != 1) throw new InvalidDataException($"{path}: a task file is one YAML document, not {stream.Documents.Count}");
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer)) Write(w, stream.Documents[0].RootNode);
        using var doc = JsonDocument.Parse(buffer.ToArray());
        return doc.RootElement.Clone();
    }

    static void Write(Utf8JsonWriter w, YamlNode node)
    {
        switch (node)
        {
            case YamlMappingNode map:
                w.WriteStartObject();
                foreach (var (key, value) in map.Children)
                {
                    w.WritePropertyName(key is YamlScalarNode k ? k.Value ?? "" : key.ToString());
                    Write(w, value);
                }
                w.WriteEndObject();
                break;
            case YamlSequenceNode seq:
                w.WriteStartArray();
                foreach (var item in seq.Children) Write(w, item);
                w.WriteEndArray();
                break;
            case YamlScalarNode s:
                string v = s.Value ?? "";
                if (s.Style != ScalarStyle.Plain) w.WriteStringValue(v);
                else if (v is "" or "~" or "null" or "Null" or "NULL") w.WriteNullValue();
                else if (v is "true" or "True" or "TRUE") w.WriteBooleanValue(true);
                else if (v is "false" or "False" or "FALSE") w.WriteBooleanValue(false);
                else if (long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) w.WriteNumberValue(l);
                else if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d)) w.WriteNumberValue(d);
                else w.WriteStringValue(v);
                break;
            default:
                w.WriteNullValue();
                break;
        }
    }
}
