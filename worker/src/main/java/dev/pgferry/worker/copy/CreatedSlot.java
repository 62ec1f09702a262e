package dev.pgferry.worker.copy;

/**
 * A logical replication slot pgferry created ({@link SourceSnapshot#createSlot}): its name, the LSN from which it
 * streams ({@code consistent_point}) and the snapshot its creation exported. Rows copied under {@link #snapshot}
 * plus the changes the slot streams from {@link #consistentPoint} are exactly the source, nothing twice, nothing
 * lost; so a subscription that streams from an existing slot without copying ({@code copy_data = false}) takes one
 * of these, and only the copy made under its snapshot may precede it.
 */
public record CreatedSlot(String name, String consistentPoint, SourceSnapshot snapshot) {
}
