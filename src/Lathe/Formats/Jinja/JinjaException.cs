namespace Lathe.Formats.Jinja;

/// <summary>A chat template that cannot be parsed or rendered: one line naming the construct (or the template's own
/// <c>raise_exception</c> message) and the template line. A <see cref="FormatException"/> (InvalidDataException is sealed), so the CLI reports
/// it as bad input (exit code 2).</summary>
public sealed class JinjaException(string message) : FormatException(message)
{
    /// <summary>Template line the error points at (1-based; 0 when unknown).</summary>
    public int TemplateLine { get; init; }

    /// <summary>True when the template itself raised the error through <c>raise_exception(message)</c>.</summary>
    public bool RaisedByTemplate { get; init; }

    internal static JinjaException At(int line, string what) =>
        new($"chat template line {line}: {what}") { TemplateLine = line };
}
