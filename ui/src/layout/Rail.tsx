// A folded side panel: a narrow strip that says what is folded there and opens it again.
import { chakra, Text } from "@chakra-ui/react";
import { useT } from "../i18n";

interface RailProps {
  side: "left" | "right";
  label: string;
  onOpen: () => void;
  testId: string;
}

export function Rail({ side, label, onOpen, testId }: RailProps) {
  const t = useT();
  return (
    <chakra.button
      type="button"
      w="7"
      flexShrink={0}
      borderRightWidth={side === "left" ? "1px" : "0"}
      borderLeftWidth={side === "right" ? "1px" : "0"}
      bg="bg.subtle"
      _hover={{ bg: "bg.muted" }}
      cursor="pointer"
      display="flex"
      flexDirection="column"
      alignItems="center"
      gap="2"
      py="2"
      onClick={onOpen}
      title={t("Show: {panel}", { panel: label })}
      aria-label={t("Show: {panel}", { panel: label })}
      aria-expanded={false}
      data-testid={testId}
    >
      <Text fontSize="sm" aria-hidden>
        {side === "left" ? "›" : "‹"}
      </Text>
      <Text fontSize="xs" color="fg.muted" maxH="60" overflow="hidden" whiteSpace="nowrap" textOverflow="ellipsis" style={{ writingMode: "vertical-rl" }} transform={side === "left" ? "rotate(180deg)" : undefined}>
        {label}
      </Text>
    </chakra.button>
  );
}
