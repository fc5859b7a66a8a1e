package com.inferencekey;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.BeanDescription;
import com.fasterxml.jackson.databind.introspect.BeanPropertyDefinition;
import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The Java declarations of the types that cross the ABI have exactly the fields of the core's
 * types ({@code ik_type_fields}), so a field added in the core fails here until Java has it.
 */
class FieldListsTest {
    static Set<String> core(String type) { return new TreeSet<>(Abi.typeFields(type)); }

    /** The JSON names Jackson writes for {@code type} (what the binding sends). */
    static Set<String> written(Class<?> type) {
        BeanDescription d = Abi.JSON.getSerializationConfig().introspect(Abi.JSON.constructType(type));
        return d.findProperties().stream().filter(BeanPropertyDefinition::couldSerialize)
                .map(BeanPropertyDefinition::getName).collect(Collectors.toCollection(TreeSet::new));
    }

    /** The JSON names Jackson reads into {@code type} (what the binding decodes). */
    static Set<String> read(Class<?> type) {
        BeanDescription d = Abi.JSON.getDeserializationConfig().introspect(Abi.JSON.constructType(type));
        return d.findProperties().stream().filter(p -> p.couldDeserialize() && !p.getName().equals("extra"))
                .map(BeanPropertyDefinition::getName).collect(Collectors.toCollection(TreeSet::new));
    }

    @Test
    void requests() {
        assertEquals(core("TextRequest"), written(TextRequest.class));
        assertEquals(core("EmbedRequest"), written(EmbedRequest.class));
        assertEquals(core("RerankRequest"), written(RerankRequest.class));
        assertEquals(core("JobRequest"), written(JobRequest.class));
    }

    @Test
    void workload() {
        assertEquals(core("Workload"), read(Workload.class));
    }

    @Test
    void workloadSpec() {
        assertEquals(core("WorkloadSpec"), written(WorkloadSpec.class));
    }

    @Test
    void clientAndEndpointSettings() {
        Duration s = Duration.ofSeconds(1);
        assertEquals(core("ManagementSettings"),
                Options.client("u", "p", "sdk_token", "t", s, s, s, 1).keySet().stream().collect(Collectors.toCollection(TreeSet::new)));
        assertEquals(core("DataSettings"),
                Options.client("u", "p", "api_key", "t", s, s, s, 1).keySet().stream().collect(Collectors.toCollection(TreeSet::new)));
        assertEquals(core("EndpointSettings"), new TreeSet<>(DataClient.endpointOptions("k", "p").keySet()));
        assertEquals(core("WebhookSettings"), new TreeSet<>(Webhooks.options(s, java.time.Instant.EPOCH).keySet()));
    }

    @Test
    void anUnknownTypeIsAnInvalidArgument() {
        var e = assertThrows(InvalidArgumentException.class, () -> Abi.typeFields("Nope"));
        assertEquals("type_name", e.field());
    }
}
