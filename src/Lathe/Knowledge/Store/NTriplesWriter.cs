using System.Text;
using Lathe.IO;

namespace Lathe.Knowledge.Store;

/// <summary>Writes a graph as N-Triples in the mapping <see cref="NTriplesReader"/> reads back: relation labels, then
/// each entity's type, name and aliases followed by its facts, numbers as <c>xsd:integer</c> or <c>xsd:double</c>,
/// dates as <c>xsd:gYear</c>, <c>xsd:gYearMonth</c> or <c>xsd:date</c>. Sources, relation templates and questions do
/// not travel (N-Triples has no place for them); JSONL is the lossless format. Written atomically.</summary>
public static class NTriplesWriter
{
    public static void Write(IKnowledgeGraph graph, string path) => AtomicFile.Write(path, stream =>
    {
        using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
        Write(graph, writer);
    });

    public static void Write(IKnowledgeGraph graph, TextWriter writer)
    {
        foreach (var relation in graph.Relations())
        {
            NTriplesSyntax.WriteIri(writer, NTriplesReader.RelationPrefix + relation.Id);
            writer.Write(' ');
            NTriplesSyntax.WriteIri(writer, NTriplesSyntax.RdfsLabel);
            writer.Write(' ');
            NTriplesSyntax.WriteString(writer, relation.Label);
            writer.Write(" .\n");
        }
        var facts = graph.Match(null, null, null);
        int next = 0;
        foreach (var entity in graph.Entities())
        {
            Line(writer, entity.Id, NTriplesSyntax.RdfType, () => NTriplesSyntax.WriteIri(writer, NTriplesReader.TypePrefix + entity.Type));
            Line(writer, entity.Id, NTriplesSyntax.RdfsLabel, () => NTriplesSyntax.WriteString(writer, entity.Name));
            foreach (string alias in entity.Aliases)
                Line(writer, entity.Id, NTriplesSyntax.SkosAltLabel, () => NTriplesSyntax.WriteString(writer, alias));
            // Facts come sorted by subject, entities by id: the facts of this entity are the next run.
            while (next < facts.Count && string.CompareOrdinal(facts[next].Subject, entity.Id) < 0) WriteFact(writer, facts[next++]);
            while (next < facts.Count && facts[next].Subject == entity.Id) WriteFact(writer, facts[next++]);
        }
        while (next < facts.Count) WriteFact(writer, facts[next++]);
    }

    static void Line(TextWriter writer, string subject, string predicate, Action writeObject)
    {
        NTriplesSyntax.WriteIri(writer, NTriplesReader.EntityPrefix + subject);
        writer.Write(' ');
        NTriplesSyntax.WriteIri(writer, predicate);
        writer.Write(' ');
        writeObject();
        writer.Write(" .\n");
    }

    static void WriteFact(TextWriter writer, Triple fact)
    {
        NTriplesSyntax.WriteIri(writer, NTriplesReader.EntityPrefix + fact.Subject);
        writer.Write(' ');
        NTriplesSyntax.WriteIri(writer, NTriplesReader.RelationPrefix + fact.Relation);
        writer.Write(' ');
        var obj = fact.Object;
        switch (obj.Kind)
        {
            case TermKind.Entity: NTriplesSyntax.WriteIri(writer, NTriplesReader.EntityPrefix + obj.Value); break;
            case TermKind.String: NTriplesSyntax.WriteString(writer, obj.Value); break;
            case TermKind.Number:
                NTriplesSyntax.WriteString(writer, obj.Value);
                writer.Write("^^");
                NTriplesSyntax.WriteIri(writer, NTriplesSyntax.Xsd + (IsInteger(obj.Value) ? "integer" : "double"));
                break;
            case TermKind.Date:
                NTriplesSyntax.WriteString(writer, obj.Value);
                writer.Write("^^");
                int dashes = obj.Value.TrimStart('-').Count(c => c == '-');
                NTriplesSyntax.WriteIri(writer, NTriplesSyntax.Xsd + (dashes switch { 0 => "gYear", 1 => "gYearMonth", _ => "date" }));
                break;
        }
        writer.Write(" .\n");
    }

    static bool IsInteger(string value)
    {
        int start = value.StartsWith('-') ? 1 : 0;
        if (start == value.Length) return false;
        for (int i = start; i < value.Length; i++) if (!char.IsAsciiDigit(value[i])) return false;
        return true;
    }
}
