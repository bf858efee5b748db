using System.Text;

namespace Lathe.Knowledge.Store;

/// <summary>Reads N-Triples into the graph with Lathe's mapping (docs/KNOWLEDGE.md, "N-Triples"):
/// <list type="bullet">
/// <item>entities are <c>&lt;urn:lathe:entity:ID&gt;</c>, relations <c>&lt;urn:lathe:relation:ID&gt;</c>; any other IRI
/// (and a blank node, as <c>_:label</c>) is kept whole as the id;</item>
/// <item><c>rdfs:label</c> gives an entity its name (a further label becomes an alias) or a relation its label;
/// <c>skos:altLabel</c> an alias; <c>rdf:type &lt;urn:lathe:type:T&gt;</c> its type T (another type IRI is kept whole);</item>
/// <item>literals: plain, <c>xsd:string</c> and language-tagged → string; <c>xsd:integer|decimal|double</c> (and float,
/// int, long) → number; <c>xsd:date|gYear|gYearMonth</c> → date; another datatype is an error;</item>
/// <item>a predicate the graph does not know becomes a relation whose object kind is its first object's, with the
/// statement "{s} LABEL {o}." and no questions (only the label travels in N-Triples; JSONL is the lossless format);</item>
/// <item>an entity mentioned without a name is named by its id, without a type typed <c>thing</c>.</item>
/// </list></summary>
internal static class NTriplesReader
{
    public const string EntityPrefix = "urn:lathe:entity:";
    public const string RelationPrefix = "urn:lathe:relation:";
    public const string TypePrefix = "urn:lathe:type:";
    public const string DefaultType = "thing";

    sealed class EntityInfo
    {
        public string? Name, Type;
        public readonly List<string> Aliases = [];
        public long Line;
    }

    public static void Read(Stream stream, ImportSession session)
    {
        var entities = new Dictionary<string, EntityInfo>(StringComparer.Ordinal);
        var relationLabels = new Dictionary<string, (string Label, long Line)>(StringComparer.Ordinal);
        var createdRelations = new HashSet<string>(StringComparer.Ordinal);
        using var reader = new StreamReader(stream, new UTF8Encoding(false, throwOnInvalidBytes: true));
        long line = 0;
        while (true)
        {
            string? text;
            try { text = reader.ReadLine(); }
            catch (DecoderFallbackException) { throw session.Error(line + 1, "not valid UTF-8"); }
            catch (InvalidDataException e) { throw session.Error(line + 1, $"cannot decompress: {e.Message}"); }
            if (text is null) break;
            line++;
            NtTerm s, p, o;
            try { if (!NTriplesSyntax.TryParseLine(text, out s, out p, out o)) continue; }
            catch (FormatException e) { throw session.Error(line, $"malformed N-Triples: {e.Message}"); }

            if (p.Value == NTriplesSyntax.RdfsLabel && s.Kind == NtTermKind.Iri && s.Value.StartsWith(RelationPrefix, StringComparison.Ordinal))
            {
                relationLabels[s.Value[RelationPrefix.Length..]] = (RequireText(o, "rdfs:label", session, line), line);
                continue;
            }
            string subject = EntityId(s);
            var info = Info(entities, subject, line);
            switch (p.Value)
            {
                case NTriplesSyntax.RdfsLabel:
                    string label = RequireText(o, "rdfs:label", session, line);
                    if (info.Name is null) info.Name = label;
                    else if (label != info.Name && !info.Aliases.Contains(label)) info.Aliases.Add(label);
                    break;
                case NTriplesSyntax.SkosAltLabel:
                    string alias = RequireText(o, "skos:altLabel", session, line);
                    if (!info.Aliases.Contains(alias)) info.Aliases.Add(alias);
                    break;
                case NTriplesSyntax.RdfType:
                    if (o.Kind == NtTermKind.Literal) throw session.Error(line, "rdf:type needs an IRI object, not a literal");
                    info.Type = o.Kind == NtTermKind.Iri && o.Value.StartsWith(TypePrefix, StringComparison.Ordinal) ? o.Value[TypePrefix.Length..] : o.Value;
                    break;
                default:
                    AddFact(session, subject, p.Value, o, entities, relationLabels, createdRelations, line);
                    break;
            }
        }

        // Labels: a relation made by this import reads with its label; an existing one keeps its statement.
        foreach (var (id, (label, at)) in relationLabels)
            if (session.Relation(id) is { } relation)
                session.PutRelation(createdRelations.Contains(id)
                    ? relation with { Label = label, Statement = DefaultStatement(label) }
                    : relation with { Label = label }, at);
        foreach (var (id, info) in entities)
        {
            var existing = session.Entity(id);
            if (existing is not null && info.Name is null && info.Type is null && info.Aliases.Count == 0) continue;
            session.PutEntity(new KgEntity(id, info.Name ?? existing?.Name ?? id,
                info.Aliases.Count > 0 ? info.Aliases : existing?.Aliases ?? [], info.Type ?? existing?.Type ?? DefaultType), info.Line);
        }
    }

    static void AddFact(ImportSession session, string subject, string predicate, NtTerm o, Dictionary<string, EntityInfo> entities,
        Dictionary<string, (string, long)> labels, HashSet<string> created, long line)
    {
        string relationId = predicate.StartsWith(RelationPrefix, StringComparison.Ordinal) ? predicate[RelationPrefix.Length..] : predicate;
        var kind = o.Kind == NtTermKind.Literal ? LiteralKind(o, session, line) : TermKind.Entity;
        var relation = session.Relation(relationId);
        if (relation is null)
        {
            string label = labels.TryGetValue(relationId, out var l) ? l.Item1 : LocalName(relationId);
            relation = new KgRelation(relationId, label, kind, Functional: false, DefaultStatement(label), []);
            session.PutRelation(relation, line);
            created.Add(relationId);
        }
        Term obj;
        if (kind == TermKind.Entity)
        {
            string id = EntityId(o);
            Info(entities, id, line);
            obj = Term.Entity(id);
        }
        else obj = session.Literal(kind, o.Value, relationId, line);
        session.AddFact(subject, relation, obj, null, line);
    }

    static TermKind LiteralKind(NtTerm o, ImportSession session, long line)
    {
        if (o.Datatype is null || o.Datatype == NTriplesSyntax.RdfLangString) return TermKind.String;
        if (!o.Datatype.StartsWith(NTriplesSyntax.Xsd, StringComparison.Ordinal)) throw session.Error(line, $"unsupported datatype <{o.Datatype}>");
        return o.Datatype[NTriplesSyntax.Xsd.Length..] switch
        {
            "string" => TermKind.String,
            "integer" or "decimal" or "double" or "float" or "int" or "long" => TermKind.Number,
            "date" or "gYear" or "gYearMonth" => TermKind.Date,
            _ => throw session.Error(line, $"unsupported datatype <{o.Datatype}> (strings, numbers and dates only)"),
        };
    }

    static string RequireText(NtTerm o, string predicate, ImportSession session, long line)
    {
        if (o.Kind != NtTermKind.Literal || LiteralKind(o, session, line) != TermKind.String)
            throw session.Error(line, $"{predicate} needs a string literal");
        if (string.IsNullOrWhiteSpace(o.Value)) throw session.Error(line, $"{predicate} is empty");
        return o.Value;
    }

    static EntityInfo Info(Dictionary<string, EntityInfo> entities, string id, long line)
    {
        if (!entities.TryGetValue(id, out var info)) entities[id] = info = new EntityInfo { Line = line };
        return info;
    }

    static string EntityId(NtTerm term) =>
        term.Kind == NtTermKind.Iri && term.Value.StartsWith(EntityPrefix, StringComparison.Ordinal) ? term.Value[EntityPrefix.Length..] : term.Value;

    // The last segment of a foreign predicate IRI ("http://xmlns.com/foaf/0.1/knows" → "knows") reads best in a sentence.
    static string LocalName(string id)
    {
        int cut = Math.Max(id.LastIndexOf('#'), id.LastIndexOf('/'));
        return cut >= 0 && cut < id.Length - 1 ? id[(cut + 1)..] : id;
    }

    internal static string DefaultStatement(string label) => "{s} " + label + " {o}.";
}
